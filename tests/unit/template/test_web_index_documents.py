"""On AWS, `/console/` serves console/index.html: the CloudFront Function the template puts on
the pages' default behaviour, run here in Node.js on CloudFront's viewer-request event shape
(DefaultRootObject covers only `/`, and S3 behind origin access control has no index
documents)."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from tests.unit.template import iam_check

NODE = shutil.which("node") or shutil.which("nodejs")


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return iam_check.load_sam()


def distribution(sam: dict[str, Any]) -> dict[str, Any]:
    return dict(sam["Resources"]["WebDistribution"]["Properties"]["DistributionConfig"])


def run(code: str, uri: str, querystring: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the function returns for one viewer request (a request or a response)."""
    if NODE is None:
        pytest.skip("node is not installed")
    event = {
        "version": "1.0",
        "context": {"eventType": "viewer-request"},
        "viewer": {"ip": "198.51.100.7"},
        "request": {
            "method": "GET",
            "uri": uri,
            "querystring": querystring or {},
            "headers": {"host": {"value": "d111111abcdef8.cloudfront.net"}},
            "cookies": {},
        },
    }
    script = f"{code}\nprocess.stdout.write(JSON.stringify(handler({json.dumps(event)})));"
    done = subprocess.run([NODE, "-e", script], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_the_pages_behaviour_runs_the_index_function(sam: dict[str, Any]) -> None:
    default = distribution(sam)["DefaultCacheBehavior"]
    assert default["TargetOriginId"] == "web"
    assert default["FunctionAssociations"] == [
        {
            "EventType": "viewer-request",
            "FunctionARN": {"Fn::GetAtt": ["WebIndexDocuments", "FunctionARN"]},
        }
    ]
    function = sam["Resources"]["WebIndexDocuments"]
    assert function["Type"] == "AWS::CloudFront::Function"
    assert function["Properties"]["AutoPublish"] is True
    assert function["Properties"]["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"


@pytest.mark.parametrize(
    ("uri", "origin_uri"),
    [
        ("/console/", "/console/index.html"),
        ("/", "/index.html"),
        ("/console/js/api.js", "/console/js/api.js"),
        ("/console/reports.html", "/console/reports.html"),
        ("/vendor/axe-core/axe.min.js", "/vendor/axe-core/axe.min.js"),
        ("/console.css", "/console.css"),
    ],
)
def test_a_path_ending_in_a_slash_gets_its_index_document(
    sam: dict[str, Any], uri: str, origin_uri: str
) -> None:
    code = sam["Resources"]["WebIndexDocuments"]["Properties"]["FunctionCode"]
    answer = run(code, uri)
    assert "statusCode" not in answer
    assert answer["uri"] == origin_uri
    assert answer["headers"]["host"]["value"] == "d111111abcdef8.cloudfront.net"


def test_console_without_its_slash_is_sent_to_it_with_the_query(sam: dict[str, Any]) -> None:
    code = sam["Resources"]["WebIndexDocuments"]["Properties"]["FunctionCode"]
    answer = run(code, "/console", {"status": {"value": "PENDING"}, "q": {"value": "206 340"}})
    assert answer["statusCode"] == 308
    assert answer["headers"]["location"]["value"] == "/console/?status=PENDING&q=206%20340"
    plain = run(code, "/console")
    assert plain["headers"]["location"]["value"] == "/console/"


def test_the_api_behaviours_do_not_run_it(sam: dict[str, Any]) -> None:
    # The console API's paths have their own function (X-Viewer-Host); an API path must
    # never be rewritten to an index document.
    for behaviour in distribution(sam)["CacheBehaviors"]:
        arns = [a["FunctionARN"] for a in behaviour.get("FunctionAssociations", [])]
        assert {"Fn::GetAtt": ["WebIndexDocuments", "FunctionARN"]} not in arns
