<?php
// Shared by phpmailer_client.php and wp_mail_client.php: PHPMailer settings as
// an SMTP plugin or an app sets them, and what the client reports.

/**
 * Points $mail at mailtape from the MX_* environment. With $wp_default_auth
 * and MX_MECH=LOGIN, AuthType is left unset, as WordPress and its SMTP
 * plugins leave it: PHPMailer then picks LOGIN from the server's
 * `AUTH PLAIN LOGIN` (its order is CRAM-MD5, LOGIN, PLAIN, XOAUTH2).
 * Returns the object that collects PHPMailer's debug output.
 */
function mx_configure($mail, $wp_default_auth)
{
    $host = getenv('MX_HOST');
    $tls  = getenv('MX_TLS');
    $mail->isSMTP();
    // PHPMailer takes an IPv6 address only in brackets.
    $mail->Host     = strpos($host, ':') !== false ? "[$host]" : $host;
    $mail->Port     = (int) getenv('MX_PORT');
    $mail->Hostname = 'app.local';   // the EHLO name
    $mail->Helo     = 'app.local';
    $mail->Timeout  = (int) getenv('MX_TIMEOUT');
    if ($tls === 'smtps') {
        $mail->SMTPSecure = 'ssl';   // PHPMailer::ENCRYPTION_SMTPS
    } elseif ($tls === 'starttls') {
        $mail->SMTPSecure = 'tls';   // PHPMailer::ENCRYPTION_STARTTLS
    } else {
        $mail->SMTPSecure  = '';
        $mail->SMTPAutoTLS = false;  // the plain port offers no STARTTLS anyway
    }
    $mail->SMTPAuth = true;
    if (!($wp_default_auth && getenv('MX_MECH') === 'LOGIN')) {
        $mail->AuthType = getenv('MX_MECH');
    }
    $mail->Username = getenv('MX_USER');
    $mail->Password = getenv('MX_PASS');
    $ssl = ['cafile' => getenv('MX_CA'), 'verify_peer' => true, 'verify_peer_name' => true];
    if (strpos($host, ':') !== false) {
        // PHP checks the peer name against the host as written in the URL,
        // brackets included ("[::1]"), which matches no IP address in a
        // certificate; naming the address without brackets does.
        $ssl['peer_name'] = $host;
    }
    $mail->SMTPOptions = ['ssl' => $ssl];
    // PHPMailer waits up to SMTP::$Timelimit (300 s) for each reply, whatever
    // $Timeout says ($Timeout covers the connection and each read); a plugin
    // that wants a shorter wait sets both.
    $mail->getSMTPInstance()->Timelimit = (int) getenv('MX_TIMEOUT');
    // Keep PHPMailer's conversation and its connection errors, as SMTP
    // plugins do for their debug view (WP Mail SMTP's "debug events").
    $log = new ArrayObject();
    $mail->SMTPDebug   = 4;          // SMTP::DEBUG_LOWLEVEL: also connection errors and read timeouts
    $mail->Debugoutput = function ($str, $level) use ($log) {
        $log[] = rtrim($str);        // one entry per report; some span lines
    };
    return $log;
}

/** On success: the server's reply to the message, as PHPMailer saw it. */
function mx_report_success($log)
{
    $reply = '';
    foreach ($log as $line) {
        if (preg_match('/^SERVER -> CLIENT: (250 OK.*)$/', $line, $m)) {
            $reply = $m[1];
        }
    }
    echo "sent: $reply\n";
}

/**
 * On failure: the error the app gets (the exception's message, which for a
 * refused message holds the server's reply and code, but for a refused login
 * only "Could not authenticate."), then the errors PHPMailer reported on the
 * way ("SMTP ERROR: Password command failed: 535 Invalid username",
 * "Connection failed. ... certificate verify failed", timeouts), then the
 * whole debug log for the reader.
 */
function mx_report_failure($mail, $message, $log)
{
    foreach (explode("\n", rtrim($message)) as $line) {
        echo "error: $line\n";
    }
    foreach ($log as $entry) {
        if (preg_match('/^(SMTP ERROR:|SMTP Error:|Connection failed|SMTP -> get_lines\(\): .*timed-out|SMTP NOTICE:)/', $entry)) {
            echo 'phpmailer: ' . preg_replace('/\s*\n\s*/', ' ', $entry) . "\n";
        }
    }
    foreach ($log as $entry) {
        foreach (explode("\n", $entry) as $line) {
            echo 'debug: ' . rtrim($line) . "\n";
        }
    }
}
