"""The README sections "Testing your hooks" and "Command line": their code runs as shown.

The sections' text lives here, so the code in them is executed by the suite; once the
README carries them, it must carry them unchanged.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest

from .test_readme import python_block

README_PATH = Path(__file__).resolve().parents[1] / "README.md"

TESTING_SECTION = """## Testing your hooks

No public URL, Okta org or Preview tab needed: `flask_okta_hooks.testing` builds the calls
Okta sends (realistic by default, every field overridable), sends them authenticated as
your app is configured (shared secret, or OAuth with a local signing key), and checks the
answers against Okta's rules. With pytest and pytest-flask, the `okta_client` fixture is
there as soon as the package is installed:

```python
import pytest

from flask_okta_hooks import Token
from flask_okta_hooks.testing import (
    assert_claim_added, assert_empty_response, assert_okta_accepts, make_request,
)
from myapp import app as my_app, enrich  # the Quickstart above


@pytest.fixture
def app():  # the app under test, as pytest-flask names it
    return my_app


def test_gold_tier_over_http(okta_client):
    result = okta_client.post("token", login="ada@example.com")
    assert_claim_added(result, token=Token.ACCESS, name="tier", value="gold")
    assert_okta_accepts(result)  # Okta would apply this answer


def test_no_access_token_no_change():  # the handler alone, without HTTP
    call = make_request("token", drop=("access",))
    assert_empty_response(enrich(call))
```

Factories exist for every hook type (`token_request`, `registration_request(flow=
"progressive")`, `telephony_request(otp_code=...)` ...; `overrides={"data.x.y": ...}`
reaches any field), and assertions read like the domain: `assert_registration_denied(
resp, field="email")`, `assert_password_verified`, `assert_user_linked`,
`assert_telephony_status` ... Each works on a handler's result and on an HTTP answer.
"""

COMMAND_LINE_SECTION = """## Command line

```sh
flask okta-hooks routes --base-url https://hooks.example.com   # the URLs to register in Okta
flask okta-hooks sample token --variant client-credentials > call.json
flask okta-hooks simulate token --payload call.json     # in process, with the configured auth
flask okta-hooks simulate token --set data.context.user.profile.login=ada@example.com
flask okta-hooks simulate token --url https://hooks.example.com/okta/hooks/token
flask okta-hooks openapi --format yaml > openapi.yaml           # needs the openapi extra
```

`simulate` prints the status, the answer and Okta's verdict, and exits with 1 when Okta
would reject or silently drop the answer (a broken rule, a status other than 200, a 204
where the hook type forbids it). With `--url` it sends the app's configured secret (or
`--secret`, `--bearer`) and waits 3 s, as Okta does; secrets are never printed.
"""


def test_the_sections_fit_the_readme() -> None:
    assert len(TESTING_SECTION.splitlines()) <= 40
    assert len(COMMAND_LINE_SECTION.splitlines()) <= 40


@pytest.mark.parametrize("section", [TESTING_SECTION, COMMAND_LINE_SECTION])
def test_the_readme_carries_the_sections_unchanged(section: str) -> None:
    readme = README_PATH.read_text()
    heading = section.splitlines()[0]
    if heading not in readme:
        pytest.skip(f"the README has no {heading!r} section yet")
    start = readme.index(heading + "\n")
    end = readme.find("\n## ", start + 1)
    assert readme[start : len(readme) if end == -1 else end + 1] == section


@pytest.fixture
def myapp(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The README's Quickstart, importable as ``myapp`` as the section assumes."""
    module = type(sys)("myapp")
    exec(compile(python_block("Quickstart"), "README quickstart", "exec"), module.__dict__)  # noqa: S102
    monkeypatch.setitem(sys.modules, "myapp", module)
    return module


def test_the_testing_example_passes_in_a_users_project(
    myapp: Any, pytester: pytest.Pytester
) -> None:
    code = re.search(r"```python\n(.*?)```", TESTING_SECTION, re.DOTALL)
    assert code is not None
    pytester.makepyfile(test_hooks=code.group(1))

    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")

    result.assert_outcomes(passed=2)


def test_the_command_line_examples_run(
    myapp: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flask_okta_hooks.cli import cli

    monkeypatch.chdir(tmp_path)
    runner = myapp.app.test_cli_runner()
    block = re.search(r"```sh\n(.*?)```", COMMAND_LINE_SECTION, re.DOTALL)
    assert block is not None
    for line in block.group(1).splitlines():
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
