"""dvc.yaml's deps are complete: every file of fer/ that a stage imports, directly or not, is among its deps,
and the stage's command line names every path it reads or writes."""
import ast
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO



def expanded_stages() -> dict:
    """dvc.yaml's stages, a ``foreach`` stage as one stage per key (``name@key``), as DVC names them."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    stages = {}
    for name, stage in yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"].items():
        if "foreach" not in stage:
            stages[name] = stage
            continue
        section = params
        for part in stage["foreach"].strip("${}").split("."):
            section = section[part]
        for key in section:
            stages[f"{name}@{key}"] = yaml.safe_load(yaml.safe_dump(stage["do"]).replace("${key}", key))
    return stages


STAGES = expanded_stages()


def module_file(module: str) -> Path | None:
    """The file of a module of this repository (fer.x.y or stages.x), None for others."""
    if module.split(".")[0] not in ("fer", "stages"):
        return None
    base = REPO.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    raise AssertionError(f"{module} is imported but has no file in {REPO}")


def imported_modules(path: Path) -> set[str]:
    """Every module that a file imports anywhere in it (late imports inside functions too)."""
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
            # `from fer.playtest import report` imports the module fer.playtest.report
            modules.update(f"{node.module}.{alias.name}" for alias in node.names
                           if module_file_or_none(f"{node.module}.{alias.name}"))
    return modules


def module_file_or_none(module: str) -> Path | None:
    try:
        return module_file(module)
    except AssertionError:
        return None


def code_files(stage_module: str) -> set[str]:
    """The repository's files that running ``python -m stage_module`` executes, except package
    __init__ files (each holds a docstring only: see test_package_inits_hold_no_code)."""
    seen, todo = set(), [stage_module]
    while todo:
        path = module_file(todo.pop())
        if path is None or path in seen:
            continue
        seen.add(path)
        todo += imported_modules(path)
    return {str(path.relative_to(REPO)) for path in seen if path.name != "__init__.py"}


SHARED_CODE = {"member": ("stages.train",)}  # a foreach stage whose code is another stage's


def command(name: str) -> tuple[str, set[str]]:
    """A stage's module (stages.X, named as the stage or, for a second use of a stage's code, as the stage
    without its ``_suffix``) and its paths (the words that are no ``--option value``)."""
    words = STAGES[name]["cmd"].split()
    module = words[2] if words[:2] == ["python", "-m"] else ""
    assert module in (f"stages.{name}", f"stages.{name.rsplit('_', 1)[0]}", *SHARED_CODE.get(name.split("@")[0], ())), \
        f"{name}: cmd must be `python -m stages.{name} PATHS...`"
    options = [word for i, word in enumerate(words[3:]) if word.startswith("--")
               or (i and words[3 + i - 1].startswith("--"))]
    return module, set(words[3:]) - set(options)


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_deps_are_exactly_the_code_it_runs(name):
    stage = STAGES[name]
    module, _ = command(name)
    code_deps = {dep for dep in stage["deps"] if dep.endswith(".py")}
    imported = code_files(module)
    assert not imported - code_deps, f"stage {name} runs {sorted(imported - code_deps)} but does not depend on it"
    assert not code_deps - imported, f"stage {name} depends on {sorted(code_deps - imported)} but never runs it"


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_paths_come_from_its_command_line(name):
    stage = STAGES[name]
    declared = {dep for dep in stage["deps"] if not dep.endswith(".py")}
    for section in ("outs", "metrics", "plots"):
        declared |= {next(iter(out)) if isinstance(out, dict) else out for out in stage.get(section, [])}
    module, arguments = command(name)
    assert declared <= arguments, f"{name}: {sorted(declared - arguments)} are declared but not passed to the stage"
    scratch = {line.strip("/") for line in (REPO / ".gitignore").read_text().splitlines()}
    unknown = {path for path in arguments - declared if path not in scratch and Path(path).parent.as_posix() not in scratch}
    assert not unknown, f"{name}: {sorted(unknown)} are passed but neither deps, outs nor ignored scratch folders"
    source = module_file(module).read_text()
    for path in arguments:
        assert f'"{path}"' not in source, f"stages/{name}.py repeats the path {path} of dvc.yaml"


def test_package_inits_hold_no_code():
    for init in REPO.glob("fer/**/__init__.py"):
        body = ast.parse(init.read_text()).body
        assert all(isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) for node in body), \
            f"{init.relative_to(REPO)} holds code; stages' deps leave __init__ files out"
