"""classify_log and PolicySet through the binding."""

import collections.abc
import datetime
import json

import pytest

import inframind as im

OOM_LOG = (
    "\x1b[31m2024-05-01T10:00:00.123Z cc1plus: internal compiler error: Killed (program cc1plus)\x1b[0m\n"
    "make: *** [Makefile:12: all] Error 1\n"
)

POLICIES_YAML = """
- name: restart
  condition: {labels: {alertname: KubePodCrashLooping}}
  action: {tool: restart_pod, params: {pod: "${label.pod}"}}
  safety: {cooldown: 10m}
"""

HOOK = {
    "version": "4",
    "status": "firing",
    "receiver": "inframind",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "KubePodCrashLooping", "pod": "cart-1"},
            "startsAt": "2024-05-01T10:00:00Z",
        }
    ],
}


def test_classify_oom():
    c = im.classify_log(OOM_LOG)
    assert c.category == "oom" and c["category"] == "oom"
    assert 0 < c.confidence <= 1
    assert c.evidence[0]["line"] == 1 and "Killed" in c.evidence[0]["text"]
    assert c.remediation["action"] == "reduce_concurrency"
    assert c.run_status == "oom_killed"
    assert isinstance(c, collections.abc.Mapping)
    assert dict(c) == c.to_dict()
    assert set(c) == {"category", "confidence", "evidence", "remediation"}
    assert "evidence" in c and "nope" not in c and len(c) == 4
    assert c.get("nope", 5) == 5
    with pytest.raises(KeyError):
        c["nope"]
    json.dumps(c.to_dict())


def test_classify_unknown_and_huge_logs():
    assert im.classify_log("Process completed with exit code 1.").category == "unknown"
    assert im.classify_log("").category == "unknown"
    big = ("compiling foo.c\n" * 200_000) + "No space left on device\n"
    c = im.classify_log(big)
    assert c.category == "disk_full" and c.run_status == "failure"


def test_policies_evaluate_with_safety_state(tmp_path):
    ps = im.PolicySet.from_yaml(POLICIES_YAML)
    assert len(ps) == 1 and ps.names == ["restart"]
    now = "2024-05-01T10:00:05Z"
    dry = ps.evaluate(HOOK, dry_run=True, now=now)
    assert dry["decisions"][0]["outcome"] == "matched" and dry["decisions"][0]["dry_run"]
    first = ps.evaluate(HOOK, now=now)
    d = first["decisions"][0]
    assert d["outcome"] == "matched" and not d["dry_run"]
    assert d["action"] == {"tool": "restart_pod", "params": {"pod": "cart-1"}}
    assert first["audit"][0]["receiver"] == "inframind"
    # The same delivery again (an HA peer) is suppressed: the state persists between calls.
    again = ps.evaluate(json.dumps(HOOK), now=datetime.datetime(2024, 5, 1, 10, 0, 6, tzinfo=datetime.timezone.utc))
    assert again["decisions"][0]["outcome"] == "suppressed"
    assert "duplicate" in again["decisions"][0]["reason"]


def test_policy_constructors_agree(tmp_path):
    a = im.PolicySet.from_yaml(POLICIES_YAML)
    b = im.PolicySet.from_json(a.to_json())
    c = im.PolicySet.from_dict(json.loads(a.to_json()))
    d = im.PolicySet.from_dict(a.policies)
    path = tmp_path / "p.yaml"
    path.write_text(a.to_yaml())
    e = im.PolicySet.from_file(path)
    (tmp_path / "p.json").write_text(a.to_json())
    f = im.PolicySet.from_file(str(tmp_path / "p.json"))
    for other in (b, c, d, e, f):
        assert other.policies == a.policies


def test_final_status_is_the_cores_rule():
    status, verdict = im.final_status("failure", OOM_LOG)
    assert status == "oom_killed"
    assert verdict is not None and verdict["category"] == "oom"
    # A cancelled run keeps its status and its log is not classified, even an OOM log.
    assert im.final_status("cancelled", OOM_LOG) == ("cancelled", None)
    assert im.final_status("success", OOM_LOG) == ("success", None)
    assert im.final_status("failure", "   \n") == ("failure", None)
    assert im.final_status("failure") == ("failure", None)
    # A reported OOM keeps its status and still gets the classification.
    status, verdict = im.final_status("oom_killed", OOM_LOG)
    assert status == "oom_killed" and verdict is not None
    with pytest.raises(im.InvalidInputError) as e:
        im.final_status("killed", OOM_LOG)
    assert e.value.field == "status"
