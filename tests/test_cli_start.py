"""The CLI starts without what only some commands need: numpy (staffing, the bot) and
typer's rich help module (drawn only for --help and usage errors). Each cost about a
quarter of a second at every `cstool ...` call, which CI scripts pay per line."""

import subprocess
import sys


def _loaded_after(code: str) -> set[str]:
    probe = (f"import sys\n{code}\n"
             "print(' '.join(m for m in ('numpy', 'typer.rich_utils') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)
    return set(out.stdout.split())


def test_importing_the_cli_loads_neither_numpy_nor_the_rich_help():
    assert _loaded_after("import commands.main") == set()


def test_a_command_that_needs_numpy_still_gets_it():
    # staffing's Erlang A model (customers who give up) imports numpy where it computes
    loaded = _loaded_after(
        "from cstool.staffing.erlang import Workload, required_agents\n"
        "w = Workload(arrivals=120, interval_s=1800, aht_s=180, target_s=20, patience_s=120)\n"
        "assert required_agents(w, 0.8).agents > 0")
    assert "numpy" in loaded
