/** The device API version this SDK speaks (nerves_hub_link ≥ 2.8.1: join `meta`, `firmware_validated`). */
export const DEVICE_API_VERSION = '2.3.0';
/** The console protocol version announced at join. */
export const CONSOLE_VERSION = '2.0.0';
/** Phoenix serializer version: JSON V2 (`[join_ref, ref, topic, event, payload]`). */
export const SERIALIZER_VSN = '2.0.0';

/** Socket path for certificate (mTLS) authentication. */
export const CERTIFICATE_SOCKET_PATH = '/socket/websocket';
/** Socket path for shared-secret (NH1) authentication. */
export const SHARED_SECRET_SOCKET_PATH = '/device-socket/websocket';

/** Channel topics. */
export const Topics = {
  /** The main topic: updates, statuses, reboot, identify, keys. */
  device: 'device',
  /** Remote console (IEx-style shell) topic. */
  console: 'console',
  /** Extensions (health, geo, …) topic. */
  extensions: 'extensions',
} as const;

/** Events the server pushes on the `device` topic. */
export const ServerEvents = {
  /** A firmware update offer. */
  update: 'update',
  /** Reboot the device (answered with `rebooting`). */
  reboot: 'reboot',
  /** Identify the device (blink an LED…). */
  identify: 'identify',
  /** An archive (signed file bundle) offer. */
  archive: 'archive',
  /** The org's fwup public keys (after a join with `fwup_public_keys: "on_connect"`). */
  fwupPublicKeys: 'fwup_public_keys',
  /** The org's archive public keys. */
  archivePublicKeys: 'archive_public_keys',
  /** Run a script (refused unless the app registers a handler). */
  scriptsRun: 'scripts/run',
  /** The server asks which extensions the device supports. */
  extensionsGet: 'extensions:get',
} as const;

/** Events the device pushes on the `device` topic. */
export const DeviceEvents = {
  /** Download/apply progress `{stage, value}`. */
  fwupProgress: 'fwup_progress',
  /** Update status (`received`, `started`, `completed`, `failed`…). */
  statusUpdate: 'status_update',
  /** The device is about to reboot. */
  rebooting: 'rebooting',
  /** The running firmware was validated (after an A/B switch). */
  firmwareValidated: 'firmware_validated',
  /** The network interface in use. */
  reportNetworkInterface: 'report_network_interface',
  /** Reply to a `scripts/run` request. */
  scriptsRun: 'scripts/run',
} as const;

/** Header the server sets on a refused upgrade to explain why (401/503). */
export const CONNECTION_ERROR_REASON_HEADER = 'nh-connection-error-reason';
