<?php
/**
 * A WordPress database drop-in (wp-content/db.php) for the mailtape client
 * matrix: WordPress boots with no database server.
 *
 * WordPress loads this file instead of connecting (require_wp_db()); a drop-in
 * that sets $wpdb is how alternative databases plug in (SQLite, HyperDB). This
 * one connects to nothing. It answers a single query, the one that loads the
 * autoloaded options (wp_load_alloptions()), from the small table below, and
 * every other query with nothing. It is copied into the WordPress tree that
 * matrix.py unpacks from Debian's package into a temp folder, never into an
 * installed WordPress.
 */
class mx_stub_wpdb extends wpdb {
	/** The wp_options rows WordPress reads on the way to wp_mail(). */
	private $mx_options = array(
		'blog_charset' => 'UTF-8',
		'blogname'     => 'mailtape matrix',
		'home'         => 'http://app.local',
		'siteurl'      => 'http://app.local',
		'admin_email'  => 'admin@app.local',
	);

	public function __construct() {
		// No parent::__construct(): it would connect to MySQL.
		$this->show_errors = false;
		$this->ready       = true;
		$this->charset     = 'utf8mb4';
		$this->collate     = '';
		$this->dbname      = 'none';
	}

	public function db_connect( $allow_bail = true ) {
		return true;
	}

	public function check_connection( $allow_bail = true ) {
		return true;
	}

	public function select( $db, $dbh = null ) {}

	public function set_charset( $dbh, $charset = null, $collate = null ) {}

	public function db_version() {
		return '8.0.0';
	}

	public function db_server_info() {
		return '8.0.0-mailtape-stub';
	}

	public function _real_escape( $string ) {
		return addslashes( (string) $string );
	}

	public function query( $query ) {
		$this->last_query  = $query;
		$this->last_result = array();
		$this->num_rows    = 0;
		$this->col_info    = null;
		if ( preg_match( '/^\s*SELECT\s+option_name,\s*option_value\s+FROM\s+' . preg_quote( $this->options, '/' ) . '\b/i', $query ) ) {
			foreach ( $this->mx_options as $name => $value ) {
				$this->last_result[] = (object) array(
					'option_name'  => $name,
					'option_value' => $value,
				);
			}
			$this->num_rows = count( $this->last_result );
		}
		return $this->num_rows;
	}
}

$wpdb = new mx_stub_wpdb();
