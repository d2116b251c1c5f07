"""Resend's failures, replayed for Python's smtplib without network or key."""

import smtplib
import ssl

import pytest

MESSAGE = "From: onboarding@resend.dev\r\nTo: someone@gmail.com\r\nSubject: hi\r\n\r\nhello\r\n"


@pytest.mark.parametrize("replay", ["builtin:sandbox"], indirect=True)
def test_sandbox_refuses_other_recipients(replay):
    with smtplib.SMTP(replay["host"], replay["port"]) as s:
        s.login("resend", "re_any_key_will_do")
        with pytest.raises(smtplib.SMTPDataError) as err:
            s.sendmail("onboarding@resend.dev", ["someone@gmail.com"], MESSAGE)
    assert err.value.smtp_code == 550
    assert err.value.smtp_error.startswith(b"You can only send testing emails to your own email address")


@pytest.mark.parametrize("replay", ["builtin:wrong-key"], indirect=True)
def test_wrong_key_over_starttls_with_the_ca(replay):
    context = ssl.create_default_context(cafile=replay["ca"])
    host, port = replay["starttls"].rsplit(":", 1)
    with smtplib.SMTP(host, int(port)) as s:
        s.starttls(context=context)
        with pytest.raises(smtplib.SMTPAuthenticationError) as err:
            s.login("resend", "re_not_the_key")
    assert err.value.smtp_code == 535
    assert err.value.smtp_error == b"Authentication credentials invalid"


def test_success_by_default(replay):
    context = ssl.create_default_context(cafile=replay["ca"])
    host, port = replay["smtps"].rsplit(":", 1)
    with smtplib.SMTP_SSL(host, int(port), context=context) as s:
        s.login("resend", "re_any_key_will_do")
        s.sendmail("billing@yourcompany.com", ["delivered@resend.dev"], MESSAGE)
