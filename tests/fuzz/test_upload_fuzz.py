"""Hostile uploads: a small corpus of files and file names sent where artifacts and datasets
come in.

Every entry is sent to the API (`POST /api/v1/model-versions/`, `POST /api/v1/dataset-versions/`,
with a token) and to the web upload forms (as the browser posts them, and as upload.js posts
them asking for JSON). Each answer must be a success (201 / a redirect) or a clear 4xx (the API
and upload.js: a JSON `detail`; the page: the form with its errors), never a 500. A refused
upload leaves nothing behind: no version row, no scan row, no stored file. An accepted one is
stored under its content hash, and the client's file name is kept only as a harmless label.

The bodies are built by hand (not by the test client's encoder), so that the file names reach
the server exactly as a hostile client would write them.
"""

import bz2
import gzip
import hashlib
import io
import os
import pickle
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.test import Client

from apps.accounts import services as account_services
from apps.registry.models import DatasetVersion, ModelVersion
from apps.scans.models import ScanRun
from tests.registry.factories import DatasetFactory, MLModelFactory

pytestmark = pytest.mark.django_db

BOUNDARY = "mlgov-fuzz-boundary-7f3a"
OK_API, OK_PAGE = 201, 302
REFUSED = "refused"  # a 4xx with a message
EITHER = "either"  # accepted or refused, never a 5xx
MiB = 1024 * 1024

# --- The corpus -------------------------------------------------------------------------------


def _zip(members: dict[str, bytes], *, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@cache
def zip_bomb() -> bytes:
    """One member of 256 MiB of zeros, deflated to about 250 KiB (ratio ~1000:1)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("weights.bin", "w", force_zip64=True) as member:
            chunk = bytes(MiB)
            for _ in range(256):
                member.write(chunk)
    return buffer.getvalue()


@cache
def gzip_bomb() -> bytes:
    """256 MiB of zeros, gzipped (a pickle-looking wrapper that inflates without end)."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9) as stream:
        chunk = bytes(MiB)
        for _ in range(256):
            stream.write(chunk)
    return buffer.getvalue()


@cache
def nested_zip(depth: int = 64) -> bytes:
    """A pickle inside a zip inside a zip ... `depth` times."""
    data = pickle.dumps({"weights": [0.1, 0.2]}, protocol=4)
    for level in range(depth):
        data = _zip({f"level{level}.zip" if level else "model.pkl": data},
                    compression=zipfile.ZIP_STORED)
    return data


@cache
def many_members_zip() -> bytes:
    """20,000 empty members: a central directory far bigger than the data."""
    return _zip({f"m/{index}": b"" for index in range(20_000)}, compression=zipfile.ZIP_STORED)


def zip_slip() -> bytes:
    """Member names that would escape the extraction folder if anything extracted them."""
    return _zip({"../../../../tmp/evil.pkl": b"x", "/etc/cron.d/evil": b"x",
                 "C:\\Windows\\evil.dll": b"x", "ok/../../evil": b"x"})


def truncated_pickle() -> bytes:
    whole = pickle.dumps({"coef": list(range(5000)), "name": "model"}, protocol=4)
    return whole[: len(whole) // 2]


# A pickle that would run `os.system("id")` if loaded (written by hand: nothing is pickled or
# loaded here). Registering it must work: refusing is the scanner's job, not the upload's.
REDUCE_PICKLE = (
    b"\x80\x04\x95\x1c\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x8c\x06system\x93\x8c\x02id\x85R."
)
SMALL_PICKLE = pickle.dumps({"coef": [1.0, 2.0, 3.0]}, protocol=4)
GOOD_CSV = b"age,income,label\n41,52000,1\n37,31000,0\n"


@dataclass(frozen=True)
class Upload:
    """One hostile upload: what is sent and what must come back."""

    id: str
    content: Callable[[], bytes]
    filename: str | bytes = "upload.bin"
    expect: str = EITHER  # OK, REFUSED or EITHER
    status: int | None = None  # the exact 4xx when it matters (413)


def _bytes(data: bytes) -> Callable[[], bytes]:
    return lambda: data


def _names(content: bytes) -> list[Upload]:
    """The same harmless content under each hostile file name."""
    return [
        Upload(f"name-{index}-{label}", _bytes(content), filename, expect, status)
        for index, (label, filename, expect, status) in enumerate(HOSTILE_NAMES)
    ]


# (test id, file name as sent, expected outcome, exact status). Names with folders are accepted
# and reduced to a label; names that are no name at all are "no file sent" (400); for the rest
# either answer is right as long as it is clean.
HOSTILE_NAMES = [
    ("dotdot-slash", "../../x.pkl", OK_API, None),
    ("dotdot-backslash", "..\\..\\x.pkl", OK_API, None),
    ("windows-drive", "C:\\Windows\\System32\\x.pkl", OK_API, None),
    ("absolute", "/etc/passwd", OK_API, None),
    ("5000-chars", "x" * 5000 + ".pkl", EITHER, None),
    ("300-char-extension", "x." + "a" * 300, EITHER, None),
    ("rtl-override", "model\u202egnp.pkl", EITHER, None),
    ("fullwidth-dotdot", "\uff0e\uff0e\uff0f\uff0e\uff0e\uff0fx.pkl", EITHER, None),
    ("device-name", "con.pkl", OK_API, None),
    ("quote", 'quote"in name.pkl', EITHER, None),
    ("nul", "\u0000nul.pkl", EITHER, None),
    ("crlf-header-injection", "\r\nX-Injected: 1.pkl", EITHER, None),
    ("html-entities", "&#46;&#46;&#47;entities.pkl", EITHER, None),
    ("not-utf8", b"\xff\xfe\xfdnot-utf8.pkl", EITHER, None),
    ("dotdot", "..", REFUSED, 400),
    ("dot", ".", REFUSED, 400),
    ("empty-name", "", REFUSED, 400),
]


def artifact_corpus() -> list[Upload]:
    limit = settings.MLGOV_MAX_ARTIFACT_BYTES
    return [
        Upload("zip-bomb", zip_bomb, "model.zip", OK_API),
        Upload("gzip-bomb", gzip_bomb, "model.pkl.gz", OK_API),
        Upload("bz2-of-zeros", lambda: bz2.compress(bytes(64 * MiB)), "model.bz2", OK_API),
        Upload("nested-zip-64", nested_zip, "nested.zip", OK_API),
        Upload("zip-20000-members", many_members_zip, "many.zip", OK_API),
        Upload("zip-slip-member-names", zip_slip, "slip.zip", OK_API),
        Upload("truncated-zip", lambda: zip_bomb()[:4096], "cut.zip", OK_API),
        Upload("truncated-pickle", truncated_pickle, "cut.pkl", OK_API),
        Upload("pickle-proto-header-only", _bytes(b"\x80\x05"), "head.pkl", OK_API),
        Upload("reduce-pickle", _bytes(REDUCE_PICKLE), "evil.pkl", OK_API),
        Upload("nul-bytes", _bytes(bytes(4096)), "zeros.bin", OK_API),
        Upload("random-bytes", lambda: os.urandom(MiB), "noise.bin", OK_API),
        Upload("empty", _bytes(b""), "empty.pkl", REFUSED, 400),
        Upload("over-the-limit", lambda: bytes(limit + 1), "big.bin", REFUSED, 413),
        *_names(SMALL_PICKLE),
    ]


def dataset_corpus() -> list[Upload]:
    limit = settings.MLGOV_MAX_DATASET_BYTES
    long_field = settings.MLGOV_MAX_CSV_FIELD_BYTES + 1024
    return [
        Upload("csv-10MiB-line", lambda: b"a,b\n" + b"x" * (10 * MiB) + b",1\n", "long.csv",
               REFUSED, 413 if limit < 10 * MiB else 400),
        Upload("csv-field-over-limit", lambda: b"a,b\n" + b"x" * long_field + b",1\n",
               "field.csv", REFUSED, 400),
        Upload("csv-latin-1", _bytes("name,city\nJos\u00e9,M\u00e1laga\n".encode("latin-1")),
               "latin1.csv", REFUSED, 400),
        Upload("csv-utf-16", _bytes("a,b\n1,2\n".encode("utf-16")), "utf16.csv", REFUSED, 400),
        Upload("csv-nul-bytes", _bytes(b"a,b\n1,\x00\x00\n2,3\n"), "nul.csv", EITHER),
        Upload("csv-unterminated-quote", _bytes(b'a,b\n"1,2\n3,4\n'), "quote.csv", REFUSED, 400),
        Upload("csv-ragged-rows", _bytes(b"a,b\n1,2,3\n"), "ragged.csv", REFUSED, 400),
        Upload("csv-duplicate-header", _bytes(b"a,a\n1,2\n"), "dup.csv", REFUSED, 400),
        Upload("csv-header-only", _bytes(b"a,b\n"), "header.csv", OK_API),
        Upload("csv-20000-columns",
               lambda: (",".join(f"c{i}" for i in range(20_000)) + "\n").encode(),
               "wide.csv", OK_API),
        Upload("csv-is-a-zip-bomb", zip_bomb, "bomb.csv", REFUSED, 400),
        Upload("csv-is-a-pickle", _bytes(REDUCE_PICKLE), "evil.csv", REFUSED, 400),
        Upload("empty", _bytes(b""), "empty.csv", REFUSED, 400),
        Upload("over-the-limit", lambda: b"a\n" + b"1\n" * (limit // 2 + 1), "big.csv",
               REFUSED, 413),
        *_names(GOOD_CSV),
    ]


# --- Sending ----------------------------------------------------------------------------------


def multipart(fields: dict[str, str], file_field: str, filename: str | bytes,
              content: bytes) -> bytes:
    """A multipart/form-data body written byte by byte: the file name goes out as given."""
    raw_name = filename.encode() if isinstance(filename, str) else filename
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{file_field}"; filename="'.encode()
        + raw_name
        + b'"\r\nContent-Type: application/octet-stream\r\n\r\n'
        + content
        + b"\r\n"
    )
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def _stored_files() -> set[str]:
    root = settings.MEDIA_ROOT
    found = set()
    for folder, _dirs, files in os.walk(root):
        found.update(os.path.relpath(os.path.join(folder, name), root) for name in files)
    return found


def _counts() -> tuple[int, int, int]:
    return ModelVersion.objects.count(), DatasetVersion.objects.count(), ScanRun.objects.count()


@pytest.fixture
def target(team, data_scientist):
    """A model and a dataset of the data scientist's team, and clients to upload with."""
    _info, token = account_services.token_create(user=data_scientist, name="fuzz",
                                                 read_only=False)
    web = Client()
    web.force_login(data_scientist)
    return {
        "model": MLModelFactory(team=team, name="fuzzed-model"),
        "dataset": DatasetFactory(team=team, name="fuzzed-dataset"),
        "api": Client(HTTP_AUTHORIZATION=f"Token {token}"),
        "web": web,
    }


def _send(target, *, kind: str, channel: str, upload: Upload, version: str, content: bytes):
    if kind == "artifact":
        owner, file_field = target["model"], "artifact"
        api_url, page_url = "/api/v1/model-versions/", f"/models/{owner.pk}/versions/new/"
        fields = {"version": version, "framework": "other"}
    else:
        owner, file_field = target["dataset"], "file"
        api_url, page_url = "/api/v1/dataset-versions/", f"/datasets/{owner.pk}/versions/new/"
        fields = {"version": version}
    if channel == "api":
        fields = {kind if kind == "dataset" else "model": str(owner.pk), **fields}
        body = multipart(fields, file_field, upload.filename, content)
        return target["api"].post(api_url, body, content_type=CONTENT_TYPE)
    body = multipart(fields, file_field, upload.filename, content)
    extra = {"HTTP_ACCEPT": "application/json"} if channel == "upload.js" else {}
    return target["web"].post(page_url, body, content_type=CONTENT_TYPE, **extra)


def _accepted(channel: str, response) -> bool:
    if channel == "api":
        return response.status_code == OK_API
    if channel == "upload.js":
        return response.status_code == 200 and "redirect" in response.json()
    return response.status_code == OK_PAGE


def _assert_clear_refusal(channel: str, response, upload: Upload) -> None:
    assert 400 <= response.status_code < 500, (upload.id, channel, response.status_code)
    if upload.status is not None:
        assert response.status_code == upload.status, (upload.id, channel, response.content[:300])
    if channel != "api" and _body_refused_by_django(response):
        # A body Django's multipart parser refuses (a part header over its size limit) is a 400
        # before the view can show its form.
        assert response.status_code == 400, (upload.id, channel)
    elif channel in ("api", "upload.js"):
        detail = response.json()["detail"]
        assert isinstance(detail, str) and detail.strip(), (upload.id, channel, response.json())
        assert "Traceback" not in detail
    else:
        form = response.context["form"]
        assert form.errors, (upload.id, channel, "a refused page shows no error")


def _body_refused_by_django(response) -> bool:
    if response["Content-Type"].startswith("application/json"):
        return False
    return response.context is None or "form" not in response.context


def _assert_stored_safely(kind: str, content: bytes) -> None:
    model = ModelVersion if kind == "artifact" else DatasetVersion
    row = model.objects.order_by("-id").first()
    stored = row.artifact if kind == "artifact" else row.file
    label = row.artifact_name if kind == "artifact" else row.file_name
    assert row.sha256 == hashlib.sha256(content).hexdigest()
    assert stored.endswith(row.sha256) and default_storage.exists(stored)
    # The client's name is a label only: no folders, no control characters, bounded.
    assert label and len(label) <= 200, label
    assert "/" not in label and "\\" not in label and label not in (".", ".."), label
    assert all(ch.isprintable() for ch in label), repr(label)


def _run(target, *, kind: str, channel: str, upload: Upload) -> None:
    content = upload.content()
    before_files, before_rows = _stored_files(), _counts()
    response = _send(target, kind=kind, channel=channel, upload=upload,
                     version=f"fuzz-{channel}", content=content)
    assert response.status_code < 500, (upload.id, channel, response.status_code)
    if _accepted(channel, response):
        assert upload.expect in (OK_API, EITHER), (
            upload.id, channel, "accepted an upload that must be refused"
        )
        _assert_stored_safely(kind, content)
        return
    assert upload.expect in (REFUSED, EITHER), (
        upload.id, channel, response.status_code, response.content[:500]
    )
    _assert_clear_refusal(channel, response, upload)
    assert _counts() == before_rows, (upload.id, channel, "a refused upload left a row")
    assert _stored_files() == before_files, (upload.id, channel, "a refused upload left a file")


CHANNELS = ["api", "page", "upload.js"]


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("upload", artifact_corpus(), ids=lambda upload: upload.id)
def test_hostile_artifact_upload(target, channel, upload):
    _run(target, kind="artifact", channel=channel, upload=upload)


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("upload", dataset_corpus(), ids=lambda upload: upload.id)
def test_hostile_dataset_upload(target, channel, upload):
    _run(target, kind="dataset", channel=channel, upload=upload)


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize(
    "body",
    [
        pytest.param(lambda full: full[: len(full) // 2], id="truncated-body"),
        pytest.param(lambda full: full.replace(f"--{BOUNDARY}--".encode(), b""),
                     id="no-closing-boundary"),
        pytest.param(lambda full: full.replace(b"Content-Disposition", b"Content-Dispositio"),
                     id="broken-part-headers"),
        pytest.param(lambda full: b"\x00" * 1024, id="nul-body"),
    ],
)
def test_malformed_multipart_is_refused(target, channel, body):
    """Bodies that are not valid multipart: refused with a 4xx, and nothing is written. A page
    that receives no field at all shows its empty form again (200), as for a GET."""
    full = multipart({"model": str(target["model"].pk), "version": "broken"}, "artifact",
                     "model.pkl", SMALL_PICKLE)
    before_files, before_rows = _stored_files(), _counts()
    client = target["api"] if channel == "api" else target["web"]
    url = ("/api/v1/model-versions/" if channel == "api"
           else f"/models/{target['model'].pk}/versions/new/")
    extra = {"HTTP_ACCEPT": "application/json"} if channel == "upload.js" else {}
    response = client.post(url, body(full), content_type=CONTENT_TYPE, **extra)
    if channel == "api" or response.status_code != 200:
        assert 400 <= response.status_code < 500, (channel, response.status_code)
    else:
        assert not response.context["form"].is_bound, "a 200 must be the empty form"
    assert _counts() == before_rows
    assert _stored_files() == before_files


def test_corpus_is_what_it_claims():
    """The bombs are bombs and the nesting is deep: otherwise the tests above prove little."""
    bomb = zip_bomb()
    assert len(bomb) < 2 * MiB
    with zipfile.ZipFile(io.BytesIO(bomb)) as archive:
        assert archive.getinfo("weights.bin").file_size == 256 * MiB
    assert len(gzip_bomb()) < 2 * MiB
    data, depth = nested_zip(), 0
    while data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            data = archive.read(archive.namelist()[0])
        depth += 1
    assert depth == 64 and pickle.loads(data) == {"weights": [0.1, 0.2]}  # noqa: S301 - ours
    assert len(zipfile.ZipFile(io.BytesIO(many_members_zip())).namelist()) == 20_000
