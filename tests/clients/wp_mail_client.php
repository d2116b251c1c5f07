<?php
// WordPress wp_mail() as a site with an SMTP plugin sends mail: WordPress from
// Debian's `wordpress` package (unpacked by matrix.py, never installed), booted
// by its own wp-settings.php, and PHPMailer configured in a `phpmailer_init`
// hook exactly as SMTP plugins (WP Mail SMTP "Other SMTP" and the like) do.
//
// No database: WordPress' SHORTINIT boot (load.php, plugin.php and the hooks,
// formatting.php, functions.php, class-wp-error.php, the object cache,
// default-filters.php, ...) with the database drop-in wordpress/db.php in
// wp-content, which answers the autoloaded-options query from a five-row
// table (blog_charset, blogname, home, siteurl, admin_email) and every other
// query with nothing. After SHORTINIT this file loads what wp_mail() needs
// that SHORTINIT leaves out, each unchanged from WordPress: option.php
// (get_option), general-template.php (get_bloginfo), link-template.php and
// pluggable.php (wp_mail). Nothing of wp_mail() or PHPMailer is stubbed.
//
// Settings from the environment (set by matrix.py): MX_WP_ROOT (the unpacked
// usr/share/wordpress), MX_HOST, MX_PORT, MX_TLS, MX_MECH (LOGIN leaves
// PHPMailer's AuthType unset, WordPress' default, which picks LOGIN; PLAIN
// sets it), MX_USER, MX_PASS, MX_FROM, MX_TO, MX_CA, MX_TIMEOUT.
// Exit 0 when wp_mail() returned true, 1 otherwise.

define( 'ABSPATH', rtrim( getenv( 'MX_WP_ROOT' ), '/' ) . '/' );
define( 'SHORTINIT', true );
define( 'DB_NAME', 'none' );
define( 'DB_USER', 'none' );
define( 'DB_PASSWORD', '' );
define( 'DB_HOST', 'localhost' );
define( 'WP_DEBUG', false );
$table_prefix = 'wp_';

require ABSPATH . 'wp-settings.php';
require_once ABSPATH . WPINC . '/option.php';
require_once ABSPATH . WPINC . '/general-template.php';
require_once ABSPATH . WPINC . '/link-template.php';
require_once ABSPATH . WPINC . '/pluggable.php';
require __DIR__ . '/php_common.php';

$mx_log = new ArrayObject();

// What an SMTP plugin does: switch PHPMailer to SMTP with the site's settings.
add_action( 'phpmailer_init', function ( $phpmailer ) use ( &$mx_log ) {
	$mx_log = mx_configure( $phpmailer, true );
} );

// What the site sees when sending fails (WP Mail SMTP logs the same).
add_action( 'wp_mail_failed', function ( $error ) use ( &$mx_log ) {
	mx_report_failure( $GLOBALS['phpmailer'], $error->get_error_message(), $mx_log );
} );

echo 'WordPress ' . $GLOBALS['wp_version'] . "\n";
$sent = wp_mail(
	getenv( 'MX_TO' ),
	'Hello from WordPress',
	"Hi, this is a test.\n",
	array( 'From: Acme <' . getenv( 'MX_FROM' ) . '>' )
);
if ( ! $sent ) {
	exit( 1 );
}
mx_report_success( $mx_log );
