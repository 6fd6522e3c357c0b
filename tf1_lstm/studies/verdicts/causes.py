"""Why one seed printed other numbers in two runs: the rule `verify` and `compare` share.

Settings come first (a run trained otherwise is another experiment), then the fingerprint's
factors that act in the runs' TensorFlow, then what one side did not record; only where all of
those are known and equal is a difference a reproducibility defect. Older records are read for
every field that says something (threads, machine.cpu, machine.cpu_id).
"""

from tf1_lstm.core import fingerprint, settings
from tf1_lstm.util import cpuid

EXPECTED = "expected"
CANNOT_TELL = "cannot tell"
DEFECT = "not explained by anything recorded"


def _acting_text():
    """Which factors act in which runs, from the table: "TF 1.x: ...; TF 2: TF 1.x's and ..."."""
    said, parts = [], []
    for reader in fingerprint.EVERY:
        names = [name for _, name in fingerprint.acting(reader)]
        base = next(((r, earlier) for r, earlier in said if set(earlier) <= set(names)), None)
        shown = ", ".join(names) if base is None else "%s's and %s" % (
            base[0], ", ".join(n for n in names if n not in base[1]))
        parts.append("%s: %s" % (reader, shown))
        said.append((reader, names))
    return "; ".join(parts)


RULE = ("a difference is %s where a setting that changes the numbers differs (settings first), "
        "else where a recorded factor that acts in the runs' framework differs (%s); %s where "
        "one side did not record such a factor; and %s (a reproducibility defect) only where "
        "every one is recorded on both sides and equal"
        % (EXPECTED, _acting_text(), CANNOT_TELL, DEFECT))
DATA = "data (IDX SHA-256)"


def acting(recorded, measured):
    """(key, name) of the fingerprint factors that act in the two runs: a sister post's run
    (its fingerprint names its framework), those of its framework; TF 1.x's where both runs
    are TF 1.x; TF 2's (which include 1.x's) where either side is TF 2 or unknown."""
    framework = recorded.get("framework") or measured.get("framework")
    if framework:
        return fingerprint.acting(framework)
    tf1 = all(str(fp.get("tensorflow") or "").startswith("1.") for fp in (recorded, measured))
    return fingerprint.acting(fingerprint.TF1 if tf1 else fingerprint.TF2)


def setting_values(config, row=None, report_settings=None):
    """{setting: value} of the settings that change the numbers, from a run's config.json, or
    for a report row without one, the report's settings block and the row; plus the data."""
    found = {}
    for s in settings.numbers():
        if config is not None:
            value = config.get(s.name, s.default)
        else:
            value = (row or {}).get(s.name, (report_settings or {}).get(s.name, s.default))
        found[s.name] = list(value) if isinstance(value, (list, tuple)) else value
    checksums = (config or {}).get("data_checksums")
    if isinstance(checksums, dict) and checksums:
        found[DATA] = sorted((k, (v or {}).get("idx_sha256")) for k, v in checksums.items())
    return found


def from_older_fields(metrics, threads=None, cpu=None):
    """A fingerprint from what a record holds besides `fingerprint`: its versions, threads,
    and machine block (CPU brand, family/model/stepping, caches and SIMD flags as the kernel
    listed them); `cpu`: a brand string from elsewhere (a report's run_environments)."""
    versions = metrics.get("versions") or {}
    machine = metrics.get("machine") or {}
    cpu_id = machine.get("cpu_id") or {}
    found = {k: versions[k] for k in ("tensorflow", "tensorflow_git", "python", "numpy")
             if versions.get(k)}
    if threads:
        found["intra_op_threads"] = found["inter_op_threads"] = threads
    vendor = _vendor(machine.get("cpu") or cpu)
    if vendor:
        found["cpu_vendor"] = vendor
    fms = cpu_id.get("family_model_stepping")
    if fms and "?" not in fms:
        found["family_model_stepping"] = fms
    for level, kib in _caches(cpu_id.get("caches")).items():
        found[level.lower() + "_kib"] = kib
    simd = (cpu_id.get("simd") or "").split()
    if simd:
        found["kernel_path"] = cpuid.kernel_path("avx512f" in simd, "avx" in simd)
    return found


def recorded_factors(metrics, threads=None, cpu=None):
    """The run's fingerprint, completed from its older fields where it lacks a factor (a
    0.6.0 fingerprint has no cache sizes; its machine block has)."""
    found = from_older_fields(metrics, threads, cpu)
    found.update(metrics.get("fingerprint") or {})
    return found


def _vendor(brand):
    """CPUID's vendor id of the vendor a brand string names (e.g. "AMD EPYC"), or None."""
    return next((vendor for vendor, short in sorted(cpuid.VENDORS.items())
                 if short in (brand or "")), None)


def _caches(text):
    """{"L1d": 32, ...} from a record's "L1d 32K L2 1024K ..." (sizes in KiB)."""
    words, found = (text or "").split(), {}
    for level, size in zip(words[::2], words[1::2]):
        if level in ("L1d", "L2", "L3") and size[:-1].isdigit() and size.endswith("K"):
            found[level] = int(size[:-1])
    return found


def account(settings_a, settings_b, factors_a, factors_b, sides=("recorded", "here")):
    """(verdict, one line) for a seed whose two runs printed other numbers, by RULE."""
    def named(diffs):
        return "; ".join("%s %s %s, %s %s" % (name, _shown(key, a), sides[0], _shown(key, b),
                                              sides[1]) for key, name, a, b in diffs)

    changed = [(k, k, settings_a[k], settings_b[k]) for k in settings_a
               if k in settings_b and settings_a[k] != settings_b[k]]
    if changed:
        return EXPECTED, "settings differ: " + named(changed)
    factors = acting(factors_a, factors_b)
    diffs = [(key, name, factors_a[key], factors_b[key]) for key, name in factors
             if _known(factors_a, key) and _known(factors_b, key)
             and factors_a[key] != factors_b[key]]
    if diffs:
        return EXPECTED, named(diffs)
    missing = [name for key, name in factors
               if not (_known(factors_a, key) and _known(factors_b, key))]
    if missing:
        return CANNOT_TELL, "equal in what both record; not recorded on a side: " + \
            ", ".join(missing)
    return DEFECT, ("every setting and every recorded factor is equal: a reproducibility "
                    "defect; report it with both runs' metrics.json and `pip freeze`")


def _shown(key, value):
    return "%s KiB" % value if key.endswith("_kib") else value


def _known(factors, key):
    """Recorded: a None is a reading that failed (no CPUID on this machine), but for an
    environment variable, whose None is a value (unset)."""
    return key in factors and (factors[key] is not None or fingerprint.may_be_none(key))
