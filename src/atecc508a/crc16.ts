/**
 * The ATECC508A CRC-16: polynomial 0x8005, initial value 0, each byte's bits fed least
 * significant first, no final XOR. Covers the count byte through the last data byte of a
 * command or response packet and travels little-endian after it.
 *
 * @example
 * ```ts
 * atecc508aCrc16(Uint8Array.of(0x04, 0x11)); // 0x4333: the wake response is 04 11 33 43
 * ```
 */
export function atecc508aCrc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    for (let bit = 0x01; bit <= 0x80; bit <<= 1) {
      const dataBit = (byte & bit) !== 0 ? 1 : 0;
      const crcBit = crc >> 15;
      crc = (crc << 1) & 0xffff;
      if (dataBit !== crcBit) crc ^= 0x8005;
    }
  }
  return crc;
}

/** Appends the little-endian CRC-16 of `bytes` to them. @internal */
export function withCrc(bytes: Uint8Array): Uint8Array {
  const crc = atecc508aCrc16(bytes);
  const out = new Uint8Array(bytes.length + 2);
  out.set(bytes);
  out[bytes.length] = crc & 0xff;
  out[bytes.length + 1] = crc >> 8;
  return out;
}

/** True when the last two bytes of `packet` are the little-endian CRC-16 of the rest. @internal */
export function hasValidCrc(packet: Uint8Array): boolean {
  if (packet.length < 3) return false;
  const crc = atecc508aCrc16(packet.subarray(0, packet.length - 2));
  return packet[packet.length - 2] === (crc & 0xff) && packet[packet.length - 1] === crc >> 8;
}
