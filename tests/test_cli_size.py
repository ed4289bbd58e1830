"""``mlpzoo size``: the click command on tiny widths (registered in mlpzoo.cli.main)."""

from click.testing import CliRunner

from mlpzoo.cli.size import size_command


def test_size_command_tiny(tmp_path):
    plot = tmp_path / "sweep.png"
    result = CliRunner().invoke(
        size_command, ["--targets", "60", "--dim", "8", "--tokens", "16", "--repeats", "2", "--plot", str(plot)]
    )
    assert result.exit_code == 0, result.output
    assert "Recommendations" in result.output and "64" in result.output
    assert plot.stat().st_size > 0


def test_size_command_bad_targets():
    result = CliRunner().invoke(size_command, ["--targets", "ten"])
    assert result.exit_code != 0 and "comma-separated" in str(result.exception)
