"""The `mailtape` fixture: a mock of Resend's relay and REST API on free
ports, with smtplib over implicit TLS and Resend's Python SDK over REST;
what was delivered is read back through the fixture."""

import smtplib
import ssl

import pytest

MESSAGE = (
    "From: Acme <billing@acme.com>\r\n"
    "To: delivered@resend.dev\r\n"
    "Subject: Your invoice\r\n"
    "\r\n"
    "Hi, your invoice is at https://acme.com/invoices/42\r\n"
)


def smtps(mailtape):
    context = ssl.create_default_context(cafile=mailtape.ca_file)  # verification stays on
    return smtplib.SMTP_SSL(mailtape.host, mailtape.smtps_port, context=context)


def test_smtp_message_is_delivered_and_read_back(mailtape):
    with smtps(mailtape) as s:
        s.login("resend", mailtape.key)
        s.sendmail("billing@acme.com", ["delivered@resend.dev"], MESSAGE)
    msg = mailtape.wait_for_message(to="delivered@resend.dev")
    assert msg["subject"] == "Your invoice"
    assert msg["links"] == ["https://acme.com/invoices/42"]
    [session] = mailtape.wait_for_sessions(1)
    assert (session["outcome"], session["code"]) == ("accepted", 250)
    # the key is redacted in the transcript
    assert mailtape.key not in mailtape.session(session["key"])["text"]


@pytest.mark.mailtape(scenario="sandbox")
def test_sandbox_refuses_strangers_with_550(mailtape):
    with smtps(mailtape) as s:
        s.login("resend", mailtape.key)
        with pytest.raises(smtplib.SMTPDataError) as err:
            s.sendmail("onboarding@resend.dev", ["someone@gmail.com"],
                       MESSAGE.replace("billing@acme.com", "onboarding@resend.dev"))
    assert err.value.smtp_code == 550
    assert err.value.smtp_error == (
        b"You can only send testing emails to your own email address (you@yourcompany.com). "
        b"To send emails to other recipients, please verify a domain at resend.com/domains"
    )
    assert mailtape.messages() == []
    [session] = mailtape.wait_for_sessions(1)
    assert (session["outcome"], session["code"]) == ("refused_data", 550)


def test_resend_sdk_over_rest_then_the_scenario_switched(mailtape):
    resend = pytest.importorskip("resend")
    resend.api_key = mailtape.key
    resend.api_url = mailtape.resend_base_url
    sent = resend.Emails.send({
        "from": "Acme <billing@acme.com>", "to": ["delivered@resend.dev"],
        "subject": "Hi from the SDK", "text": "Hello over REST",
    })
    msg = mailtape.wait_for_message(subject="Hi from the SDK")
    assert msg["protocol"] == "http"
    assert msg["text"].strip() == "Hello over REST"
    assert resend.Emails.get(sent["id"])["last_event"] == "delivered"

    mailtape.set_scenario("sandbox")
    assert mailtape.scenario() == "sandbox"
    with pytest.raises(resend.exceptions.ResendError) as err:
        resend.Emails.send({"from": "onboarding@resend.dev", "to": ["someone@gmail.com"],
                            "subject": "Hi", "text": "Hi"})
    assert err.value.code == 403
    assert err.value.message.startswith("You can only send testing emails to your own email address")

    mailtape.clear()
    assert mailtape.messages() == [] and mailtape.sessions() == []


def test_a_mock_that_cannot_start_says_why():
    import mailtape

    with pytest.raises(mailtape.MailtapeError) as err:
        mailtape.start("sandbx")
    assert str(err.value).startswith(
        'mailtape mock did not start: mailtape: unknown scenario "sandbx"; known: default,'
    )
