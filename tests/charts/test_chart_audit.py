"""The chart's optional `meshc audit` CronJob and the one role it gets."""

from __future__ import annotations

from typing import Any

from meshc.policies.judged import stored_resources
from support.helm_chart import of_kind, only, render

AUDIT = {"audit": {"enabled": True}}


def test_by_default_there_is_no_audit_and_no_role_at_all() -> None:
    rendered = render()
    kinds = {o["kind"] for docs in rendered.values() for o in docs}
    assert "CronJob" not in kinds
    assert not kinds & {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}


def test_the_audit_role_reads_exactly_the_judged_kinds_and_writes_only_reports() -> None:
    role = only(render(AUDIT), "ClusterRole")
    reads = [r for r in role["rules"] if r["verbs"] == ["get", "list"]]
    writes = [r for r in role["rules"] if r not in reads]
    judged = [(group, list(resources)) for group, resources in stored_resources()]
    assert [(g, r["resources"]) for r in reads for g in r["apiGroups"]] == judged
    assert writes == [{
        "apiGroups": ["openreports.io"], "resources": ["reports", "clusterreports"],
        "verbs": ["get", "list", "create", "update", "delete"],
    }]  # fmt: skip
    assert not any("/" in res for r in role["rules"] for res in r["resources"])


def test_without_reports_the_audit_role_writes_nothing() -> None:
    role = only(render({"audit": {"enabled": True, "reports": {"enabled": False}}}), "ClusterRole")
    assert all(r["verbs"] == ["get", "list"] for r in role["rules"])


def test_the_role_is_bound_to_the_audits_service_account_only() -> None:
    rendered = render(AUDIT)
    binding = only(rendered, "ClusterRoleBinding")
    accounts = of_kind(rendered, "ServiceAccount")
    audit_account = next(a for a in accounts if a["metadata"]["name"].endswith("-audit"))
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": audit_account["metadata"]["name"],
                                    "namespace": "meshc-system"}]  # fmt: skip
    webhook_pod = only(rendered, "Deployment")["spec"]["template"]["spec"]
    assert webhook_pod["serviceAccountName"] != audit_account["metadata"]["name"]
    assert webhook_pod["automountServiceAccountToken"] is False


def cronjob_container(values: dict[str, Any]) -> dict[str, Any]:
    pod = only(render(values), "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    return dict(container)


def test_the_cronjob_runs_meshc_audit_on_the_webhooks_spec_as_a_restricted_pod() -> None:
    cronjob = only(render(AUDIT), "CronJob")
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]
    assert pod["metadata"]["labels"]["sidecar.istio.io/inject"] == "false"
    # Never selected by the webhook's Service or PodDisruptionBudget.
    assert pod["metadata"]["labels"]["app.kubernetes.io/component"] == "audit"
    assert pod["metadata"]["annotations"]["linkerd.io/inject"] == "disabled"
    container = cronjob_container(AUDIT)
    assert container["command"] == ["/opt/meshc/bin/meshc", "audit"]
    assert container["args"] == ["--spec=/etc/meshc/mesh.yaml", "--format=json", "--report",
                                 "--report-api=openreports"]  # fmt: skip
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] and security["capabilities"] == {"drop": ["ALL"]}
    assert pod["spec"]["volumes"][0]["configMap"]["name"] == "meshc-spec"


def test_namespaces_and_report_apis_become_arguments() -> None:
    values = {"audit": {"enabled": True, "namespaces": ["shop", "payments"],
                        "reports": {"apis": ["openreports", "wgpolicyk8s"]}}}  # fmt: skip
    args = cronjob_container(values)["args"]
    assert args[2:] == ["--report", "--report-api=openreports", "--report-api=wgpolicyk8s",
                        "--namespace=shop", "--namespace=payments"]  # fmt: skip
