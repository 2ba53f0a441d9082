"""j2a.batch: what a long batch shows of itself."""


def test_progress_in_a_pipe_is_whole_lines_with_what_is_left(capsys, monkeypatch):
    """No carriage returns in a log: a line per interval saying files done, of how many, and the time left."""
    import sys

    from j2a import batch

    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    bar = batch.progress(4, "index")
    assert isinstance(bar, batch.LogProgress)
    bar.every_s = 0.0
    for _ in range(4):
        bar.update(1)
    bar.close()
    lines = capsys.readouterr().err.splitlines()
    assert [ln.split(" files")[0] for ln in lines] == ["index: 1/4", "index: 2/4", "index: 3/4"]  # not at the end
    assert all("min left" in ln and "\r" not in ln for ln in lines)
    quiet = batch.LogProgress(3, "analyze")  # the default interval: a short run prints nothing
    quiet.update(3)
    assert capsys.readouterr().err == ""
