"""The OpenAPI document: generated without warnings (what CI runs), served, and documenting the
error answers of every write operation."""

import pytest
import yaml
from django.core.management import call_command

pytestmark = pytest.mark.django_db

WRITE_METHODS = ("post", "put", "patch", "delete")
UPLOADS = {("/api/v1/model-versions/", "post"), ("/api/v1/dataset-versions/", "post")}


@pytest.fixture(scope="module")
def schema_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("schema") / "schema.yml"
    # --fail-on-warn turns any warning (or validation error) into a CommandError.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return path


@pytest.fixture(scope="module")
def schema(schema_file):
    return yaml.safe_load(schema_file.read_text())


def test_schema_generates_and_validates_without_warnings(schema):
    assert schema["openapi"].startswith("3.")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/auth/token/",
        "/api/v1/teams/",
        "/api/v1/models/",
        "/api/v1/models/{id}/",
        "/api/v1/model-versions/",
        "/api/v1/datasets/",
        "/api/v1/dataset-versions/",
        "/api/v1/deployments/{id}/retire/",
    ],
)
def test_contract_paths_are_documented(schema, path):
    assert path in schema["paths"]


def test_registry_write_operations_document_their_errors(schema):
    checked = 0
    for path, operations in schema["paths"].items():
        if path.startswith("/api/v1/auth/"):
            continue
        for method, operation in operations.items():
            if method not in WRITE_METHODS or not path.startswith(
                (
                    "/api/v1/teams",
                    "/api/v1/model",
                    "/api/v1/dataset",
                    "/api/v1/lineage",
                    "/api/v1/deployments",
                )
            ):
                continue
            codes = set(operation["responses"])
            expected = {"401", "403", "404"} | ({"400"} if method != "delete" else set())
            if path.endswith("/retire/"):
                expected.discard("400")
            if (path, method) in UPLOADS:
                expected |= {"413"}
                assert "multipart/form-data" in operation["requestBody"]["content"]
            assert expected <= codes, (path, method, codes)
            checked += 1
    assert checked >= 12


def test_model_version_upload_documents_the_contract_fields(schema):
    request = schema["components"]["schemas"]["ModelVersionInputRequest"]
    assert {"model", "version", "artifact"} <= set(request["required"])
    assert request["properties"]["artifact"]["format"] == "binary"
    assert "expected_sha256" in request["properties"]
    output = schema["components"]["schemas"]["ModelVersionDetailOutput"]["properties"]
    assert {"id", "sha256", "size", "format"} <= set(output)


def test_schema_is_served_to_an_authenticated_user(client_for, data_scientist):
    response = client_for(data_scientist).get("/api/v1/schema/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    document = yaml.safe_load(response.content)
    assert document["openapi"].startswith("3.")
    assert "/api/v1/model-versions/" in document["paths"]
    as_json = client_for(data_scientist).get("/api/v1/schema/", {"format": "json"})
    assert as_json.status_code == 200
    assert as_json.json()["openapi"].startswith("3.")


def test_docs_page_is_served_without_a_cdn(client_for, data_scientist):
    response = client_for(data_scientist).get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    for cdn in ("cdn.jsdelivr", "unpkg.com", "cdnjs", "googleapis"):
        assert cdn not in html
    assert "drf-spectacular-sidecar" in html or "/static/" in html
    script = client_for(data_scientist).get("/api/v1/docs/", {"script": ""})
    assert script.status_code == 200
    assert "javascript" in script["Content-Type"]
