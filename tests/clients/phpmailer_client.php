<?php
// PHPMailer (Debian's libphp-phpmailer) as an app would use it: one message,
// certificate verification on. Settings from the environment (set by
// matrix.py): MX_HOST, MX_PORT, MX_TLS (plain | starttls | smtps), MX_MECH
// (PLAIN | LOGIN), MX_USER, MX_PASS, MX_FROM (empty: a null reverse-path),
// MX_TO, MX_CA, MX_TIMEOUT. Exit 0 when the message was accepted, 1 otherwise.
require '/usr/share/php/libphp-phpmailer/autoload.php';
require __DIR__ . '/php_common.php';

use PHPMailer\PHPMailer\PHPMailer;
use PHPMailer\PHPMailer\Exception;

$mail = new PHPMailer(true);
$log = mx_configure($mail, false);
$from = getenv('MX_FROM');
if ($from === '') {
    $mail->From = '';                 // an app with an empty sender setting: MAIL FROM:<>
} else {
    $mail->setFrom($from, 'Acme');
}
$mail->addAddress(getenv('MX_TO'));
$mail->Subject = 'Hello from PHPMailer';
$mail->Body    = "Hi, this is a test.\n";

try {
    $mail->send();
    mx_report_success($log);
} catch (Exception $e) {
    mx_report_failure($mail, $e->getMessage(), $log);
    exit(1);
}
