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
  device: 'device',
  console: 'console',
  extensions: 'extensions',
} as const;

/** Events the server pushes on the `device` topic. */
export const ServerEvents = {
  update: 'update',
  reboot: 'reboot',
  identify: 'identify',
  archive: 'archive',
  fwupPublicKeys: 'fwup_public_keys',
  archivePublicKeys: 'archive_public_keys',
  scriptsRun: 'scripts/run',
  extensionsGet: 'extensions:get',
} as const;

/** Events the device pushes on the `device` topic. */
export const DeviceEvents = {
  fwupProgress: 'fwup_progress',
  statusUpdate: 'status_update',
  rebooting: 'rebooting',
  firmwareValidated: 'firmware_validated',
  reportNetworkInterface: 'report_network_interface',
  scriptsRun: 'scripts/run',
} as const;

/** Header the server sets on a refused upgrade to explain why (401/503). */
export const CONNECTION_ERROR_REASON_HEADER = 'nh-connection-error-reason';
