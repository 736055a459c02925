"""Markers by place: the tests that measure time (latency, frame lag, late frames) or sound
through a forwarded connection run alone after the parallel part of
`make test` (a loaded machine would make them lie)."""

import pytest

SERIAL = (
    "tests/contract/test_audio_e2e.py::test_bench_measures_click_latency_and_the_phone_process",
    "tests/contract/test_audio_e2e.py::test_bridge_added_latency_meets_issue_7",
    "tests/ui/test_attached_ui.py::test_attached_view_is_no_slower_than_the_in_process_tui_under_a_socket_flood",
    "tests/e2e/test_attach.py::test_phone_started_through_ssh_plays_into_the_forwarded_pulseaudio",
    "tests/contract/test_audio.py::test_baresip_1khz_reaches_output_device",  # counts late/dropped frames
    # renders per burst: a burst that 4 workers on 2 cores stretch past MAX_WAIT draws again (1 alone, 5 seen)
    "tests/ui/test_render_ui.py::test_a_presence_burst_renders_the_team_pane_at_most_three_times",
    "tests/e2e/test_tmux_quit.py::test_keys_echo_while_an_import_runs_and_sigterm_cancels_it_at_once",  # echo time
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.nodeid.startswith(SERIAL):
            item.add_marker(pytest.mark.serial)
