"""The service page's scaling and traffic sections, in Debian's Chromium against a real
control plane and a docker agent serving HTTP: the scalable target, a scaling policy, a
scaling activity recorded while the page is open (shown live, its markup as text), and the
service's load balancer target reaching healthy."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from shoal.v1 import scaling_pb2 as sc
from shoal.v1 import scaling_pb2_grpc
from tests.integration.test_console import link_for
from tests.integration.test_console_browser import browser, wait_page  # noqa: F401 (browser: a fixture)
from tests.integration.test_console_pages import text
from tests.integration.test_traffic_targets import start_web

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("chromedriver") is None or shutil.which("chromium") is None,
                       reason="needs chromium and chromium-driver (scripts/bootstrap.sh)"),
]

from selenium.webdriver.common.by import By  # noqa: E402

MARKUP = '<b id="injected">grew</b><script>window.pwned = 1</script>'


def test_service_page_shows_scaling_and_targets(make_cluster, busybox_image, browser, tmp_path: Path) -> None:  # noqa: F811
    cluster = make_cluster(agents=1, console_port=0)
    with start_web(cluster, tmp_path) as web:
        scaling = scaling_pb2_grpc.ScalingStub(cluster.channel)
        scaling.RegisterScalableTarget(sc.RegisterScalableTargetRequest(cluster="default", service="web",
                                                                        min_capacity=1, max_capacity=4))
        scaling.PutScalingPolicy(sc.PutScalingPolicyRequest(
            cluster="default", service="web", policy_name="cpu-50", policy_type="TargetTrackingScaling",
            target_tracking=sc.TargetTrackingConfiguration(predefined_metric_type="ECSServiceAverageCPUUtilization",
                                                           target_value=50)))
        b = browser
        b.get(link_for(cluster))
        wait_page(b, lambda: "(admin)" in text(b, "#whoami"), 20, "the admin logged in")
        b.get(b.current_url.split("#")[0] + "#/services/default/web")
        wait_page(b, lambda: "min 1 · max 4" in text(b, "#scalable-target"), 20, "the scalable target")
        wait_page(b, lambda: "ECSServiceAverageCPUUtilization at 50" in text(b, 'tr.policy[data-policy="cpu-50"]'), 20,
                  "the scaling policy")
        # The target: in the table with its group's name, healthy once the agent's checks pass.
        wait_page(b, lambda: text(b, "tr.target .health") == "healthy", 90, "the target shown healthy")
        row = text(b, "tr.target")
        assert row.startswith(web.tg.target_group_name) and ":" in row, row

        # An activity recorded now appears without a reload; its markup is text.
        b.execute_script("window.sameLoad = 'yes'")
        scaling.RecordScalingActivity(sc.RecordScalingActivityRequest(activity=sc.ScalingActivity(
            cluster="default", service="web", resource_id="service/default/web", description=MARKUP,
            cause="cpu above 50", from_capacity=1, to_capacity=2, status_code="Successful", policy_name="cpu-50")))
        wait_page(b, lambda: MARKUP in text(b, "tr.activity"), 20, "the activity shown live")
        assert "1 → 2" in text(b, "tr.activity") and "cpu above 50" in text(b, "tr.activity")
        assert b.execute_script("return window.sameLoad") == "yes", "the activity appeared without a reload"
        assert b.find_elements(By.ID, "injected") == [], "the activity's markup was rendered as HTML"
        assert b.execute_script("return window.pwned") is None
