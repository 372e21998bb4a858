"""SMS over HTTP in the two shapes Chinese platforms use: a China Mobile 云MAS-style submit signed with an MD5 `mac`
(`mas.py`), and a template-code + parameters platform signed with HMAC-SHA256 that posts delivery reports back
(`template.py`). `outcome.py` maps what HTTP did to a SendResult for both (and for webhooks); `signing.py` holds the
pure signature functions. See docs/notify-channels.md."""

from notify.channels.httpsms.mas import MasSmsChannel, parse_mas_reports
from notify.channels.httpsms.template import CallbackRejected, TemplateSmsChannel, parse_callback

__all__ = ["CallbackRejected", "MasSmsChannel", "TemplateSmsChannel", "parse_callback", "parse_mas_reports"]
