"""The pages "Testing your hooks" and "Command line": their code runs as shown."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

import pytest

from .docs_pages import code_block, page
from .test_readme import quickstart

TESTING_PAGE = page("testing.md")
COMMAND_LINE_PAGE = page("cli.md")


def install_myapp(monkeypatch: pytest.MonkeyPatch, quickstart: str) -> Any:
    """``quickstart`` importable as ``myapp``, as the section assumes."""
    module = type(sys)("myapp")
    exec(compile(quickstart, "README quickstart", "exec"), module.__dict__)  # noqa: S102
    monkeypatch.setitem(sys.modules, "myapp", module)
    return module


@pytest.fixture
def myapp(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The README's Quickstart as ``myapp``."""
    return install_myapp(monkeypatch, quickstart())


def run_the_testing_example(pytester: pytest.Pytester) -> pytest.RunResult:
    pytester.makepyfile(test_hooks=code_block(TESTING_PAGE))
    return pytester.runpytest_inprocess("-p", "no:cacheprovider")


def test_the_testing_example_passes_in_a_users_project(
    myapp: Any, pytester: pytest.Pytester
) -> None:
    run_the_testing_example(pytester).assert_outcomes(passed=2)


def test_the_testing_example_fails_for_a_handler_that_breaks_an_okta_rule(
    monkeypatch: pytest.MonkeyPatch, pytester: pytest.Pytester
) -> None:
    gold = '.add_access_claim("tier", "gold")'
    code = quickstart()
    assert gold in code
    install_myapp(monkeypatch, code.replace(gold, gold + '.add_access_claim("iss", "x")'))

    result = run_the_testing_example(pytester)

    result.assert_outcomes(passed=1, failed=1)  # the test without HTTP returns before
    result.stdout.fnmatch_lines(["*'iss' is reserved in the ACCESS token*[[]reserved_claim[]]*"])


def test_the_command_line_examples_run(
    myapp: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flask_okta_hooks.cli import cli

    monkeypatch.chdir(tmp_path)
    runner = myapp.app.test_cli_runner()
    for line in code_block(COMMAND_LINE_PAGE, "sh").splitlines():
        command = shlex.split(line.split("#", 1)[0])
        output = None
        if ">" in command:
            command, output = command[: command.index(">")], command[-1]
        assert command[:2] == ["flask", "okta-hooks"]
        if "--url" in command:
            # No server listens at the example host here: the command is only parsed.
            assert runner.invoke(cli, [*command[2:], "--help"]).exit_code == 0
            continue
        result = runner.invoke(cli, command[2:])
        assert result.exit_code == 0, (line, result.output)
        if output is not None:
            Path(output).write_text(result.output)
    assert Path("openapi.yaml").read_text().startswith("paths:")
