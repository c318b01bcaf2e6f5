"""Unit: a Slack-formatted alert shows job names and errors as typed, never as Slack markup."""

from __future__ import annotations

import json

from conveyor.monitor.notice import Notice, NoticeKind
from conveyor.monitor.sinks import WebhookSink, slack_escape


def test_slack_escape_escapes_the_three_control_characters() -> None:
    assert slack_escape("a & b <!channel> <http://x|y> &amp;") == (
        "a &amp; b &lt;!channel&gt; &lt;http://x|y&gt; &amp;amp;"
    )


def test_a_slack_alert_cannot_mention_the_channel_or_make_a_link() -> None:
    notice = Notice(
        incident_id=7,
        kind=NoticeKind.FIRING,
        rule="dlq_growth",
        subject="<!channel>",
        summary="job <!here> failed: <https://evil.example|click me> & more",
        details={"error": "ValueError: <@U123> & <#C42>"},
        opened_at=1_714_528_800.0,
        at=1_714_532_400.0,
        resolved_at=None,
    )
    sink = WebhookSink("https://hooks.example.com/slack", slack=True)
    text = json.loads(sink.body(notice))["text"]
    assert "<" not in text and ">" not in text
    assert "&lt;!channel&gt;" in text
    assert "job &lt;!here&gt; failed: &lt;https://evil.example|click me&gt; &amp; more" in text
    assert "error: ValueError: &lt;@U123&gt; &amp; &lt;#C42&gt;" in text


def test_the_plain_json_body_is_not_escaped() -> None:
    notice = Notice(
        incident_id=7, kind=NoticeKind.FIRING, rule="dlq_growth", subject="a<b",
        summary="x & y", details={}, opened_at=1.0, at=2.0, resolved_at=None,
    )
    body = json.loads(WebhookSink("https://hooks.example.com/h").body(notice))
    assert body["subject"] == "a<b" and body["summary"] == "x & y"
