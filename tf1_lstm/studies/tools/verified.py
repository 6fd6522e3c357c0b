"""Where a report has held: `verify`'s records, kept in the report, and what they let one expect.

Each `verify` of a writable report adds one record to <report>/verifications/: when, the tool's
version, this machine's class and whole fingerprint, the runs trained again (how many steps) and
each run's verdict. A record is never rewritten; it carries a seal (the SHA-256 of the rest of
it), so an edited record is named and left out. report.md's "Verified on" table is rebuilt
from the records after each one. `verify --plan` reads them against this machine's class.
"""

import collections
import datetime
import hashlib
import json
import os
import time
import uuid

from tf1_lstm import __version__
from tf1_lstm.util.files import (Busy, NotARegularFile, ensure_dir, locked, read_json, write_json,
                                 write_text)

FOLDER = "verifications"  # in a report folder: one sealed record per verify
SCHEMA = 1                # a record's format: a newer one is shown, never trusted
FIELDS = ("schema", "made_by", "version", "when", "class", "fingerprint", "steps", "runs",
          "verdict", "rule", "seal")
CLASS = (  # what the numbers see of a machine (docs/reproducibility.md): its class
    ("cpu_vendor", "vendor"), ("family_model_stepping", "family/model/stepping"),
    ("kernel_path", "sgemm kernel path"), ("l1d_kib", "L1d KiB"), ("l2_kib", "L2 KiB"),
    ("l3_kib", "L3 KiB"), ("intra_op_threads", "threads"))
BEGIN = "<!-- verified on: rebuilt by tf1-lstm verify from verifications/; edits are lost -->"
END = "<!-- end of verified on -->"
WAIT = 60  # seconds a verify waits for another writing its record into the same report


def machine_class(fingerprint):
    """The class of a run's (or this process's) fingerprint: CLASS's fields."""
    return collections.OrderedDict((key, fingerprint.get(key)) for key, _ in CLASS)


def class_text(found):
    """One line naming a class: 'AuthenticAMD 25/1/1, jit_avx_gemm_f32, L1d 32 KiB, ...'."""
    return "%s %s, %s, L1d %s KiB, L2 %s KiB, L3 %s KiB, %s thread%s" % (
        found.get("cpu_vendor"), found.get("family_model_stepping"), found.get("kernel_path"),
        found.get("l1d_kib"), found.get("l2_kib"), found.get("l3_kib"),
        found.get("intra_op_threads"), "" if found.get("intra_op_threads") == 1 else "s")


def differing(a, b):
    """The names of the class fields where classes `a` and `b` differ."""
    return [name for key, name in CLASS if a.get(key) != b.get(key)]


def seal_of(record):
    """The SHA-256 of a record without its seal, as canonical JSON."""
    rest = {k: v for k, v in record.items() if k != "seal"}
    return hashlib.sha256(json.dumps(rest, sort_keys=True).encode("utf-8")).hexdigest()


def record(fingerprint, steps, verdicts, overall, rule):
    """A new record: this machine's class and fingerprint, the runs (name, steps trained,
    verdict) and the whole verify's verdict, sealed."""
    found = collections.OrderedDict([
        ("schema", SCHEMA), ("made_by", "tf1-lstm"), ("version", __version__),
        ("when", datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")),
        ("class", machine_class(fingerprint)), ("fingerprint", fingerprint), ("steps", steps),
        ("runs", [collections.OrderedDict([("run", name), ("steps", n), ("verdict", v)])
                  for name, n, v in verdicts]),
        ("verdict", overall), ("rule", rule)])
    found["seal"] = seal_of(found)
    return found


def keep(report_dir, new):
    """Add the record `new` to the report and rebuild report.md's table; None, or the line
    saying why it was not kept (a folder this process cannot write, a report.md that is not
    a plain file)."""
    folder = os.path.join(report_dir, FOLDER)
    if os.path.islink(folder) or not os.access(report_dir, os.W_OK) or (
            os.path.isdir(folder) and not os.access(folder, os.W_OK)):
        return "the record was not kept: %s is not writable here" % (
            folder if os.path.isdir(folder) else report_dir)
    try:
        ensure_dir(folder)
        with _waiting(folder):
            name = "%s-%d-%s.json" % (new["when"].replace(":", ""), os.getpid(),
                                      uuid.uuid4().hex[:8])  # never over another
            write_json(os.path.join(folder, name), new)
            _rebuild(report_dir)
    except (OSError, Busy) as err:
        return "the record was not kept: %s" % (getattr(err, "strerror", None) or err)
    return None


class _waiting:
    """The records' lock, waited for: two verifies of one report at once both keep theirs."""

    def __init__(self, folder):
        self.folder, self.held = folder, None

    def __enter__(self):
        deadline = time.time() + WAIT
        while True:
            try:
                self.held = locked(self.folder, "verify PID %(pid)s is writing its record")
                return self.held.__enter__()
            except Busy:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)

    def __exit__(self, *exc):
        return self.held.__exit__(*exc)


def read(report_dir):
    """(trusted records, [(file, why it is only shown or left out)]) of a report, oldest
    first. An edited record (its seal) is left out; one of a newer format is not trusted."""
    folder = os.path.join(report_dir, FOLDER)
    trusted, others = [], []
    names = sorted(n for n in os.listdir(folder) if n.endswith(".json")) \
        if os.path.isdir(folder) else []
    for name in names:
        path = os.path.join(FOLDER, name)
        try:
            found = read_json(os.path.join(folder, name))
        except (OSError, ValueError, NotARegularFile):
            others.append((path, "not a record: left out", None))
            continue
        if not isinstance(found, dict) or found.get("seal") != seal_of(found):
            others.append((path, "edited after it was made (its seal): left out", None))
        elif found.get("schema") != SCHEMA or set(found) - set(FIELDS):
            others.append((path, "made by a newer tf1-lstm (%s): shown, not trusted"
                           % found.get("version"), found))
        else:
            trusted.append(found)
    return trusted, others


def table(report_dir):
    """report.md's "Verified on" lines, from the records."""
    trusted, others = read(report_dir)
    lines = [BEGIN, "## Verified on", "",
             "Each `tf1-lstm verify` of this report, from its record in verifications/ (sealed; "
             "the runs each trained again are listed there).", "",
             "| machine class | date | runs | verdict |", "| --- | --- | --- | --- |"]
    for found in trusted:
        lines.append("| %s | %s | %d (%s) | %s |" % (
            class_text(found["class"]), found["when"][:10], len(found["runs"]),
            "whole" if found["steps"] is None else "%s steps" % found["steps"],
            found["verdict"]))
    for path, why, found in others:
        lines.append("| %s | %s | | %s |" % (
            class_text(found.get("class") or {}) if found else "?",
            str((found or {}).get("when", ""))[:10], "`%s`: %s" % (path, why)))
    return lines + ["", END]


def with_table(report_dir, text):
    """report.md's `text` with its "Verified on" table replaced by the records' (or added at
    its end; left as it is where the report has no record)."""
    if not os.path.isdir(os.path.join(report_dir, FOLDER)) and BEGIN not in text:
        return text
    block = "\n".join(table(report_dir)) + "\n"
    if BEGIN in text and END in text:
        return text[:text.index(BEGIN)] + block + text[text.index(END) + len(END):].lstrip("\n")
    return text.rstrip("\n") + "\n\n" + block


def _rebuild(report_dir):
    path = os.path.join(report_dir, "report.md")
    if os.path.islink(path) or not os.path.isfile(path):
        return
    with open(path) as f:
        text = f.read()
    write_text(path, with_table(report_dir, text))


def expect(report_dir, here, made_on):
    """What `verify` should find on a machine of fingerprint `here`, from the records and the
    classes the report's runs were made on (`made_on`): one line."""
    mine = machine_class(here)
    trusted, _ = read(report_dir)
    same = [r for r in trusted if not differing(r["class"], mine)]
    if same:
        last = same[-1]
        return "this machine's class (%s) was verified on %s (%d runs): %s" % (
            class_text(mine), last["when"][:10], len(last["runs"]), last["verdict"])
    if any(not differing(c, mine) for c in made_on):
        return ("no record of this class (%s), but the report's runs were made on it: expect "
                "identical" % class_text(mine))
    known = [(r["class"], "verified %s on %s" % (r["verdict"], r["when"][:10]))
             for r in trusted] + [(c, "the report's runs were made on it") for c in made_on]
    if not known:
        return ("no record of any class, and the report's runs record no CPU: nothing to "
                "expect here (%s); verify will tell" % class_text(mine))
    nearest, said = min(known, key=lambda k: len(differing(k[0], mine)))
    return ("no record of this class (%s); the nearest recorded class (%s: %s) differs in %s; "
            "expect other bits" % (class_text(mine), class_text(nearest), said,
                                   ", ".join(differing(nearest, mine))))


def summary(report_dir):
    """The records in one phrase (the README's class table): the newest verdict per class,
    'identical on CLASS (DATE, N runs)'; 'none' without a record."""
    newest = collections.OrderedDict()
    for found in read(report_dir)[0]:
        newest[class_text(found["class"])] = found
    return "; ".join("%s on %s (%s, %d runs)" % (
        "identical" if r["verdict"] == "identical" else "differs" if "differs" in r["verdict"]
        else r["verdict"], text, r["when"][:10], len(r["runs"]))
        for text, r in newest.items()) or "none"
