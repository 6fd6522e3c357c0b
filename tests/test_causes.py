"""studies.verdicts.causes, the rule verify and compare explain a difference by, on fixed
records: each branch (settings, an acting factor, a factor one side lacks, a defect) from both
sides, which factors act in which TensorFlow, and what older records still tell."""

import pytest

from tf1_lstm.core import fingerprint
from tf1_lstm.studies.verdicts import causes

pytestmark = pytest.mark.fast

TF1 = dict({f.field: "x" for f in fingerprint.FACTORS if set(f.read_by) & set(fingerprint.TF)},
           tensorflow="1.15.5",
           l1d_kib=48, l2_kib=2048, l3_kib=491520, onednn=False, onednn_max_cpu_isa=None,
           mkl_cbwr=None)
TF2 = dict(TF1, tensorflow="2.15.1")
SETTINGS = {"cell": "lstm", "steps": 201, "seed": 0, "threads": 1, "lr": 0.01}


def account(a, b, settings_b=None):
    return causes.account(SETTINGS, settings_b or dict(SETTINGS), a, b)


def test_all_equal_and_all_known_is_a_defect():
    assert account(TF1, dict(TF1))[0] == causes.DEFECT
    assert account(TF2, dict(TF2))[0] == causes.DEFECT


def test_a_setting_comes_first():
    verdict, why = account(TF1, dict(TF1, l1d_kib=32), dict(SETTINGS, steps=401))
    assert verdict == causes.EXPECTED
    assert why == "settings differ: steps 201 recorded, 401 here"  # not the cache size
    # a setting each side leaves at its default is no difference
    assert account(TF1, dict(TF1), dict(SETTINGS))[0] == causes.DEFECT


def test_the_most_specific_factor_is_named_with_its_unit():
    verdict, why = account(dict(TF1, l1d_kib=32), TF1)
    assert (verdict, why) == (causes.EXPECTED, "L1d size (CPUID) 32 KiB recorded, 48 KiB here")
    verdict, why = account(TF1, dict(TF1, intra_op_threads=2))
    assert (verdict, why) == (causes.EXPECTED, "intra-op threads x recorded, 2 here")


def test_onednn_variables_act_in_tf2_only():
    tf1 = account(TF1, dict(TF1, onednn_max_cpu_isa="AVX2", mkl_cbwr="COMPATIBLE"))
    assert tf1[0] == causes.DEFECT
    tf2 = account(TF2, dict(TF2, onednn_max_cpu_isa="AVX2"))
    assert tf2 == (causes.EXPECTED, "ONEDNN_MAX_CPU_ISA None recorded, AVX2 here")
    # one side on TF 2: the TF version differs, and the TF 2 factors count
    verdict, why = account(TF1, dict(TF2, mkl_cbwr="COMPATIBLE"))
    assert verdict == causes.EXPECTED and "TensorFlow version" in why and "MKL_CBWR" in why


def test_a_factor_one_side_lacks_is_cannot_tell_not_a_defect():
    partial = {k: v for k, v in TF1.items() if k != "kernel_path"}
    verdict, why = account(partial, TF1)
    assert verdict == causes.CANNOT_TELL and why.endswith(": sgemm kernel path")
    # a None where CPUID could not be read is a reading that failed, not a value
    verdict, why = account(dict(TF1, l1d_kib=None), TF1)
    assert verdict == causes.CANNOT_TELL and "L1d size (CPUID)" in why
    # a TF 2-only factor missing from TF 1.x records is no gap
    tf1_only = {k: v for k, v in TF1.items() if k in dict(fingerprint.acting(fingerprint.TF1))}
    assert account(tf1_only, TF1)[0] == causes.DEFECT
    # a known difference explains even where something else is unknown
    assert account(dict(partial, numpy="y"), TF1)[0] == causes.EXPECTED


OLDER = {"versions": {"tensorflow": "1.15.5", "python": "3.7.16"},
         "machine": {"cpu": "AMD EPYC", "cores": 2,
                     "cpu_id": {"family_model_stepping": "25/17/1",
                                "caches": "L1d 32K L2 1024K L3 32768K",
                                "simd": "sse4_2 avx avx2 fma avx512f"}}}


def test_older_records_tell_threads_cpu_caches_and_kernel_path():
    found = causes.recorded_factors(OLDER, threads=1)
    assert found == {"tensorflow": "1.15.5", "python": "3.7.16", "intra_op_threads": 1,
                     "inter_op_threads": 1, "cpu_vendor": "AuthenticAMD",
                     "family_model_stepping": "25/17/1", "l1d_kib": 32, "l2_kib": 1024,
                     "l3_kib": 32768, "kernel_path": "jit_avx512_common_gemm_f32"}
    verdict, why = account(found, TF1)
    assert verdict == causes.EXPECTED and why.startswith(
        "sgemm kernel path jit_avx512_common_gemm_f32 recorded, x here; "
        "L1d size (CPUID) 32 KiB recorded, 48 KiB here")
    # a report's cpu for runs whose metrics.json named none; no unknown "?" model
    bare = {"machine": {"cpu_id": {"family_model_stepping": "?/?/?", "simd": "sse4_2 avx"}}}
    found = causes.recorded_factors(bare, cpu="Intel(R) Xeon(R) Processor")
    assert found == {"cpu_vendor": "GenuineIntel", "kernel_path": "jit_avx_gemm_f32"}


def test_a_fingerprint_is_completed_from_its_machine_block_not_overridden():
    record = dict(OLDER, fingerprint={"kernel_path": "jit_avx_gemm_f32", "cpu_vendor": "Z"})
    found = causes.recorded_factors(record)
    assert found["kernel_path"] == "jit_avx_gemm_f32" and found["cpu_vendor"] == "Z"
    assert found["l1d_kib"] == 32  # 0.6.0 fingerprints had no cache sizes


def test_settings_from_a_config_or_from_a_report_row():
    config = {"cell": "rnn", "steps": 401, "seed": 2, "threads": 1, "test_at": [],
              "data_checksums": {"f": {"idx_sha256": "ab"}}}
    values = causes.setting_values(config)
    assert values["steps"] == 401 and values["lr"] == 0.01 and values[causes.DATA] == [
        ("f", "ab")]
    row = causes.setting_values(None, {"cell": "rnn", "seed": 2, "threads": 1},
                                {"steps": 401, "lr": 0.01, "cells": ["rnn"]})
    assert {k: v for k, v in values.items() if k != causes.DATA} == row


def test_the_rule_names_every_factor_of_the_table_where_it_acts():
    for reader in fingerprint.EVERY:
        names = ", ".join(name for _, name in fingerprint.acting(reader))
        assert "%s: %s" % (reader, names) in causes.RULE or reader == fingerprint.TF2, reader
    assert "TF 2: TF 1.x's and oneDNN kernels, ONEDNN_MAX_CPU_ISA, MKL_CBWR;" in causes.RULE
