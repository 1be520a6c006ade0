"""Pure tests of the exec protocol module: framing, resize and status parsing."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jupyter_k8stty.exec import protocol


def test_frame_round_trip_keeps_channel_and_bytes():
    frame = protocol.encode_frame(protocol.STDOUT_CHANNEL, b"\xe2\x82")
    assert frame == b"\x01\xe2\x82"
    assert protocol.decode_frame(frame) == (1, b"\xe2\x82")


def test_empty_message_is_a_protocol_error():
    with pytest.raises(protocol.ProtocolError, match="channel byte"):
        protocol.decode_frame(b"")


def test_channel_out_of_range_is_rejected():
    with pytest.raises(protocol.ProtocolError):
        protocol.encode_frame(256, b"x")


@given(st.integers(0, 255), st.binary(max_size=4096))
def test_any_frame_round_trips(channel, data):
    assert protocol.decode_frame(protocol.encode_frame(channel, data)) == (channel, data)


def test_resize_payload_is_width_and_height_json():
    payload = protocol.encode_resize(40, 120)
    assert json.loads(payload) == {"Width": 120, "Height": 40}
    assert protocol.decode_resize(payload) == (40, 120)


@pytest.mark.parametrize("rows, cols", [(0, 80), (24, 0), (-1, 80), (70000, 80)])
def test_resize_rejects_impossible_sizes(rows, cols):
    with pytest.raises(ValueError):
        protocol.encode_resize(rows, cols)


@pytest.mark.parametrize("payload", [b"", b"{", b"[1,2]", b'{"Width":"a","Height":3}', b'{"Width":1}'])
def test_bad_resize_payload_is_a_protocol_error(payload):
    with pytest.raises(protocol.ProtocolError):
        protocol.decode_resize(payload)


def test_close_message_names_the_channel():
    assert protocol.encode_close(protocol.STDIN_CHANNEL) == b"\xff\x00"


def test_success_status_is_exit_code_zero():
    assert protocol.parse_status(b'{"metadata":{},"status":"Success"}') == protocol.ExitStatus(0)


def test_non_zero_exit_code_comes_from_the_causes():
    status = protocol.parse_status(protocol.exit_code_status(3, ["sh", "-c", "exit 3"]))
    assert status.exit_code == 3
    assert status.error is None


def test_internal_error_keeps_the_servers_message():
    status = protocol.parse_status(
        protocol.internal_error_status('exec: "nope": executable file not found in $PATH')
    )
    assert status.exit_code is None
    assert "executable file not found" in status.error
    assert status.reason == "InternalError"


def test_non_zero_exit_without_a_code_is_an_error_not_a_crash():
    status = protocol.parse_status(
        b'{"status":"Failure","reason":"NonZeroExitCode","message":"boom","details":{"causes":[]}}'
    )
    assert status.exit_code is None and status.error == "boom"


@pytest.mark.parametrize("payload", [b"", b"not json", b"\xff\xfe", b"[]", b'"Success"', b"{}"])
def test_malformed_status_becomes_an_error_quoting_what_arrived(payload):
    status = protocol.parse_status(payload)
    assert status.exit_code is None
    assert status.error.startswith("malformed exec status")


@given(st.binary(max_size=512))
def test_status_parser_never_raises(payload):
    status = protocol.parse_status(payload)
    assert (status.exit_code is None) != (status.error is None)


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda children: st.lists(children, max_size=4)
                    | st.dictionaries(st.sampled_from(["status", "reason", "message", "details",
                                                      "causes", "ExitCode"]), children, max_size=4),
                    max_leaves=12))
def test_status_parser_survives_arbitrary_json(value):
    status = protocol.parse_status(json.dumps(value).encode())
    assert (status.exit_code is None) != (status.error is None)
