import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { networkInterfaces } from 'node:os';
import type { NetworkInterfaceInfo } from 'node:os';
import { interfaceForAddress } from '../../src/socket/network-interface.js';
import { NervesHubTestServer } from '../../src/testing/index.js';
import { certificateSocket } from './helpers.js';

describe('interfaceForAddress', () => {
  const table = {
    lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }],
    wlan0: [{ address: 'fe80::1', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: 'aa:bb:cc:dd:ee:ff', internal: false, cidr: 'fe80::1/64', scopeid: 2 }],
    eth0: [{ address: '10.0.0.2', netmask: '255.255.255.0', family: 'IPv4', mac: 'aa:bb:cc:dd:ee:00', internal: false, cidr: '10.0.0.2/24' }],
  } as const;
  it('finds the interface owning an address, IPv4-mapped IPv6 included', () => {
    const t = table as unknown as NodeJS.Dict<NetworkInterfaceInfo[]>;
    expect(interfaceForAddress('10.0.0.2', t)).toBe('eth0');
    expect(interfaceForAddress('::ffff:10.0.0.2', t)).toBe('eth0');
    expect(interfaceForAddress('FE80::1', t)).toBe('wlan0');
    expect(interfaceForAddress('192.168.1.9', t)).toBeUndefined();
    expect(interfaceForAddress(undefined, t)).toBeUndefined();
  });
});

describe('report_network_interface after join', () => {
  let server: NervesHubTestServer;
  beforeAll(async () => {
    server = await NervesHubTestServer.start();
  });
  afterAll(async () => server.close());

  it('reports the loopback interface of a 127.0.0.1 connection when enabled, and exposes it', async () => {
    const loopback = Object.entries(networkInterfaces()).find(([, infos]) => infos?.some((i) => i.address === '127.0.0.1'))?.[0];
    expect(loopback).toBeDefined();
    const socket = await certificateSocket(server, 'NH-IFACE-1', { reportNetworkInterface: true });
    socket.connect();
    try {
      const frame = await server.waitForFrame((f) => f.identifier === 'NH-IFACE-1' && f.event === 'report_network_interface');
      expect(frame.payload).toEqual({ interface: loopback });
      expect(socket.networkInterface).toBe(loopback);
    } finally {
      await socket.close();
    }
  });

  it('sends nothing when not enabled', async () => {
    const socket = await certificateSocket(server, 'NH-IFACE-2');
    socket.connect();
    try {
      await server.waitForJoin('NH-IFACE-2');
      await new Promise((r) => setTimeout(r, 100));
      expect(socket.networkInterface).not.toBeNull();
      expect(server.frames.some((f) => f.identifier === 'NH-IFACE-2' && f.event === 'report_network_interface')).toBe(false);
    } finally {
      await socket.close();
    }
  });
});
