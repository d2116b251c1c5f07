// Types of the `mailtape` npm package's helper (index.js).

/** A key shaped like Resend's, accepted by the mock unless started with `--key`. */
export declare const DEFAULT_KEY: string;

/** The path of the mailtape binary: $MAILTAPE_BINARY, else the platform package's. */
export declare function binaryPath(): string;

export interface StartOptions {
  /** `mock` (default) or `replay` (implied by `tape`). */
  mode?: "mock" | "replay";
  /** The mock's scenario: `default`, `sandbox`, `rate-limited`… (`mailtape mock --list-scenarios`). */
  scenario?: string;
  /** The tape to replay: a file or `builtin:NAME`. */
  tape?: string;
  /** More flags: `["--owner", "me@acme.com"]`, `["--mailbox", dir]`… */
  args?: string[];
  /** The key `key` hands out (any `re_…` key of 8+ characters works with the mock). */
  key?: string;
  /** Folder for the generated CA (default: a temporary folder, removed by stop()). */
  certs?: string;
  /** The binary (default: binaryPath()). */
  binary?: string;
  cwd?: string;
  /** Milliseconds to wait for the ready line (default 20000). */
  timeout?: number;
}

/** A row of `GET /api/messages` (docs/api.md). */
export interface MessageSummary {
  id: string;
  session: number | null;
  session_number: number;
  protocol: "smtp" | "http";
  from: string;
  to: string[];
  header_from: string | null;
  subject: string | null;
  created: string;
  size: number;
  attachments: number;
  snippet: string;
  read: boolean;
  [field: string]: unknown;
}

/** `GET /api/messages/{id}`: the row plus headers, bodies, links, attachments. */
export interface Message extends MessageSummary {
  message_id: string | null;
  headers: [string, string][];
  text: string | null;
  html: string | null;
  links: string[];
}

/** A row of `GET /api/sessions`. */
export interface SessionSummary {
  key: number;
  session: number;
  protocol: "smtp" | "http";
  outcome: string;
  code: number | null;
  reply: string | null;
  from: string | null;
  to: string[];
  subjects: string[];
  diverged: boolean;
  [field: string]: unknown;
}

/** `GET /api/sessions/{key}`: the row plus its events and `text`, the redacted transcript. */
export interface Session extends SessionSummary {
  text: string;
  events: { at: number; kind: string; text: string }[];
}

export interface Mailtape {
  mode: "mock" | "replay";
  /** The JSON ready line as printed. */
  ready: Record<string, unknown>;
  host: "127.0.0.1";
  /** "127.0.0.1:PORT" of each listener. */
  smtps: string;
  starttls: string;
  plain: string;
  smtpsPort: number;
  starttlsPort: number;
  plainPort: number;
  /** The CA to trust (nodemailer `tls.ca`, NODE_EXTRA_CA_CERTS). */
  caFile: string;
  /** The inbox, http://127.0.0.1:PORT/. */
  uiUrl: string;
  /** Resend's REST API (mock only): set RESEND_BASE_URL to it before `new Resend()`. */
  resendBaseUrl: string | undefined;
  /** A key the mock accepts. */
  key: string;
  /** RESEND_API_KEY, RESEND_BASE_URL, NODE_EXTRA_CA_CERTS, MAILTAPE_UI_URL for a child process. */
  readonly env: Record<string, string>;
  /** What mailtape printed on stderr (its last 200 lines). */
  readonly stderr: string;
  /** Accepted messages, both doors, oldest first. */
  messages(): Promise<MessageSummary[]>;
  message(id?: string): Promise<Message>;
  /** Finished sessions (REST requests as `http`), oldest first. */
  sessions(): Promise<SessionSummary[]>;
  session(key: number): Promise<Session>;
  /** The newest message matching, whole; rejects after `timeout` ms (default 5000). */
  waitForMessage(match?: { to?: string; subject?: string; timeout?: number }): Promise<Message>;
  waitForMessages(n: number, options?: { timeout?: number }): Promise<MessageSummary[]>;
  waitForSessions(n: number, options?: { timeout?: number }): Promise<SessionSummary[]>;
  /** Switches the mock's scenario for what starts after. */
  setScenario(name: string): Promise<unknown>;
  scenario(): Promise<string>;
  /** Forgets every kept session and message. */
  clear(): Promise<void>;
  /** SIGTERM, then the exit status (a replay a client departed from: 1). */
  stop(): Promise<{ code: number; stderr: string }>;
}

/** Starts `mailtape mock` (or `replay`) on free loopback ports. */
export declare function startMailtape(options?: StartOptions): Promise<Mailtape>;

declare const _default: { startMailtape: typeof startMailtape; binaryPath: typeof binaryPath; DEFAULT_KEY: string };
export default _default;
