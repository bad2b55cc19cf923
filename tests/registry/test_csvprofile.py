"""CSV profiling: row counts, type inference, and refusals that name the line at fault."""

import io

import pytest

from apps.core.exceptions import ApplicationError
from apps.registry.csvprofile import profile_csv

LIMIT = 1024


def profile(content: bytes, max_field_bytes: int = LIMIT):
    return profile_csv(io.BytesIO(content), max_field_bytes=max_field_bytes)


def refusal(content: bytes, max_field_bytes: int = LIMIT) -> str:
    with pytest.raises(ApplicationError) as caught:
        profile(content, max_field_bytes)
    assert caught.value.field == "file"
    assert caught.value.status == 400
    return caught.value.message


def types(content: bytes) -> dict[str, str]:
    return {column["name"]: column["type"] for column in profile(content).columns}


def test_counts_rows_and_keeps_column_order():
    result = profile(b"b,a,c\n1,2,3\n4,5,6\n")
    assert result.row_count == 2
    assert [column["name"] for column in result.columns] == ["b", "a", "c"]


def test_infers_each_type():
    content = b"i,f,b,d,s,e\n1,1.5,true,2024-01-31,alpha,\n-7,2,no,2024-02-01T10:00:00,beta,\n"
    assert types(content) == {
        "i": "integer",
        "f": "float",
        "b": "boolean",
        "d": "datetime",
        "s": "string",
        "e": "empty",
    }


def test_types_widen_as_values_arrive():
    assert types(b"x\n1\n2.5\n") == {"x": "float"}
    assert types(b"x\n1\nhello\n") == {"x": "string"}
    assert types(b"x\ntrue\n2024-01-01\n") == {"x": "string"}
    assert types(b"x\n\n3\n") == {"x": "integer"}


def test_blank_lines_and_a_byte_order_mark_are_tolerated():
    result = profile(b"\xef\xbb\xbfid,name\n1,a\n\n2,b\n")
    assert result.row_count == 2
    assert result.columns[0]["name"] == "id"


def test_quoted_fields_with_commas_and_newlines():
    result = profile(b'id,text\n1,"hello, world"\n2,"two\nlines"\n')
    assert result.row_count == 2
    assert types(b'id,text\n1,"hello, world"\n') == {"id": "integer", "text": "string"}


def test_header_only_file_has_no_rows():
    result = profile(b"a,b\n")
    assert result.row_count == 0
    assert result.columns == [{"name": "a", "type": "empty"}, {"name": "b", "type": "empty"}]


def test_empty_file_is_refused():
    assert "empty" in refusal(b"")


@pytest.mark.parametrize(
    "content, words",
    [
        (b",,\n1,2,3\n", "Line 1: the header row has no column names"),
        (b"a,,c\n1,2,3\n", "Line 1: a column has no name"),
        (b"a,b,a\n1,2,3\n", "Line 1: duplicate column names: a"),
        (b"a, a\n1,2\n", "duplicate"),
    ],
)
def test_header_problems_are_refused(content, words):
    assert words in refusal(content)


@pytest.mark.parametrize(
    "content, line",
    [
        (b"a,b\n1,2\n3\n", "Line 3"),
        (b"a,b\n1,2\n3,4\n5,6,7\n", "Line 4"),
        (b'a,b\n"multi\nline",1\n2,3,4\n', "Line 4"),
    ],
)
def test_ragged_rows_name_their_line(content, line):
    message = refusal(content)
    assert message.startswith(line)
    assert "expected 2 fields" in message


def test_bad_quoting_names_the_line():
    message = refusal(b'a,b\n1,2\n3,"x"y\n')
    assert message.startswith("Line 3")
    assert "does not parse" in message


def test_field_over_the_limit_is_refused_with_its_line():
    big = b"x" * (LIMIT + 1)
    message = refusal(b"a,b\n1,2\n3," + big + b"\n")
    assert message.startswith("Line 3")


def test_field_at_the_limit_is_accepted():
    assert profile(b"a\n" + b"x" * LIMIT + b"\n").row_count == 1


@pytest.mark.parametrize(
    "content",
    [b"name\nJos\xe9\n", b"\xff\xfea\x00,\x00b\x00\n\x00", b"a\n" + b"ok\n" * 5000 + b"\x80\n"],
)
def test_non_utf8_is_refused(content):
    assert "not UTF-8" in refusal(content)


def test_the_field_size_limit_is_restored():
    import csv

    before = csv.field_size_limit()
    profile(b"a\n1\n", max_field_bytes=10)
    refusal(b"a\n" + b"y" * 50 + b"\n", max_field_bytes=10)
    assert csv.field_size_limit() == before


def test_the_file_is_rewound_for_storing():
    handle = io.BytesIO(b"a\n1\n")
    profile_csv(handle, max_field_bytes=LIMIT)
    assert handle.tell() == 0
    assert not handle.closed
