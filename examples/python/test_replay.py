"""Resend's failures, replayed for Python's smtplib without network or key
(the `mailtape_replay` fixture: a client that departs from the tape fails
the test)."""

import smtplib
import ssl

import pytest

MESSAGE = "From: onboarding@resend.dev\r\nTo: someone@gmail.com\r\nSubject: hi\r\n\r\nhello\r\n"


@pytest.mark.parametrize("mailtape_replay", ["builtin:sandbox"], indirect=True)
def test_sandbox_refuses_other_recipients(mailtape_replay):
    with smtplib.SMTP(mailtape_replay.host, mailtape_replay.plain_port) as s:
        s.login("resend", "re_any_key_will_do")
        with pytest.raises(smtplib.SMTPDataError) as err:
            s.sendmail("onboarding@resend.dev", ["someone@gmail.com"], MESSAGE)
    assert err.value.smtp_code == 550
    assert err.value.smtp_error.startswith(b"You can only send testing emails to your own email address")


@pytest.mark.parametrize("mailtape_replay", ["builtin:wrong-key"], indirect=True)
def test_wrong_key_over_starttls_with_the_ca(mailtape_replay):
    context = ssl.create_default_context(cafile=mailtape_replay.ca_file)
    with smtplib.SMTP(mailtape_replay.host, mailtape_replay.starttls_port) as s:
        s.starttls(context=context)
        with pytest.raises(smtplib.SMTPAuthenticationError) as err:
            s.login("resend", "re_not_the_key")
    assert err.value.smtp_code == 535
    assert err.value.smtp_error == b"Authentication credentials invalid"


def test_success_by_default(mailtape_replay):
    context = ssl.create_default_context(cafile=mailtape_replay.ca_file)
    with smtplib.SMTP_SSL(mailtape_replay.host, mailtape_replay.smtps_port, context=context) as s:
        s.login("resend", "re_any_key_will_do")
        s.sendmail("billing@yourcompany.com", ["delivered@resend.dev"], MESSAGE)
