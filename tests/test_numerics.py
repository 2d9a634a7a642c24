"""The numerical environments of ``make robustness`` (tests/numerics.py)."""

from __future__ import annotations

import numerics


def test_every_variant_moves_the_seeded_starts():
    table = numerics.variants()
    assert table, "no variant"
    for env in table.values():
        assert env["LRCOURSE_PERTURB"] == "1e-12"
    seeds = [env.get("LRCOURSE_PERTURB_SEED", "0") for env in table.values()]
    assert len(set(seeds)) == len(seeds), "two variants move the starts the same way"


def test_a_cpu_with_nothing_to_switch_gets_the_perturbation_alone(monkeypatch):
    monkeypatch.setattr(numerics, "simd_levels", lambda: [])
    monkeypatch.setattr(numerics, "_coretype", lambda x86, arm: {})
    assert numerics.variants() == {"perturbed": {"LRCOURSE_PERTURB": "1e-12"}}


def test_simd_variants_switch_off_only_levels_this_cpu_has(monkeypatch):
    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    levels = set(numerics.simd_levels())
    for name, env in numerics.variants().items():
        disabled = env.get("NPY_DISABLE_CPU_FEATURES", "")
        assert set(filter(None, disabled.split(","))) <= levels, name
        if name != "perturbed":
            assert set(env) - {"LRCOURSE_PERTURB", "LRCOURSE_PERTURB_SEED"}, f"{name} keeps the rounding"


def test_a_coretype_set_by_the_environment_is_kept(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    for env in numerics.variants().values():
        assert "OPENBLAS_CORETYPE" not in env


def test_cli(capsys):
    assert numerics.main(["names"]) == 0
    names = capsys.readouterr().out.split()
    assert names == list(numerics.variants())
    assert numerics.main(["env", names[0]]) == 0
    assert capsys.readouterr().out.split()[0] == "LRCOURSE_PERTURB=1e-12"
    assert numerics.main(["env", "nonsense"]) == 2
    assert numerics.main(["describe"]) == 0
    assert "LRCOURSE_PERTURB" in capsys.readouterr().out
