/**
 * Which file of a PGlite directory is damaged, for the message a user gets when it will not open. PGlite says
 * only "failed to initialize" or "Aborted()", so the two files PostgreSQL reads first are checked the way it
 * checks them: the control file against its CRC-32C, and the write-ahead log's page headers up to the last
 * checkpoint against the addresses they must carry.
 */
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';

const CONTROL_FILE = 'global/pg_control';
const WAL_PAGE = 8192;
/** PGlite's WAL segments are PostgreSQL's default size. */
const WAL_SEGMENT = 16 * 1024 * 1024;

let crcTable: Uint32Array | undefined;

/** CRC-32C (Castagnoli), the checksum PostgreSQL puts on its control file and WAL records. */
export function crc32c(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const b of bytes) crc = crcTable[(crc ^ b) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * The control file's CRC sits right after the data it covers, at an offset that depends on the PostgreSQL
 * version; a sound file has exactly one offset where the CRC of what precedes it matches.
 */
function controlFileIsSound(control: Buffer): boolean {
  for (let at = 64; at + 4 <= Math.min(control.length, 1024); at += 4) {
    if (crc32c(control.subarray(0, at)) === control.readUInt32LE(at)) return true;
  }
  return false;
}

/** The WAL file holding the last checkpoint, and that checkpoint's position in it (ControlFileData: checkPoint at 32, its timeline at 48). */
function checkpointSegment(control: Buffer): { name: string; offset: number } {
  const lsn = control.readBigUInt64LE(32);
  const timeline = control.readUInt32LE(48);
  const segno = lsn / BigInt(WAL_SEGMENT);
  const perLogId = BigInt(0x100000000 / WAL_SEGMENT);
  const hex = (n: bigint | number): string => n.toString(16).toUpperCase().padStart(8, '0');
  return { name: `pg_wal/${hex(timeline)}${hex(segno / perLogId)}${hex(segno % perLogId)}`, offset: Number(lsn % BigInt(WAL_SEGMENT)) };
}

/** Each WAL page header carries a magic number and its own address; a garbled page has neither. */
async function walIsSound(path: string, segmentStart: bigint, upTo: number): Promise<boolean> {
  const handle = await open(path, 'r').catch(() => undefined);
  if (!handle) return false;
  try {
    const page = Buffer.alloc(WAL_PAGE);
    let magic: number | undefined;
    for (let at = 0; at <= upTo; at += WAL_PAGE) {
      const { bytesRead } = await handle.read(page, 0, WAL_PAGE, at);
      if (bytesRead < 16) return false;
      const m = page.readUInt16LE(0);
      magic ??= m;
      if (m !== magic || (m & 0xff00) !== 0xd100 || page.readBigUInt64LE(8) !== segmentStart + BigInt(at)) return false;
    }
    return true;
  } finally {
    await handle.close();
  }
}

/** Names the damaged file of a PGlite directory that will not open, as a phrase ("its control file global/pg_control is damaged"). */
export async function diagnoseUnopenable(dir: string): Promise<string> {
  const control = await readFile(join(dir, CONTROL_FILE)).catch(() => undefined);
  if (!control) return `its control file ${CONTROL_FILE} is missing`;
  if (!controlFileIsSound(control)) return `its control file ${CONTROL_FILE} is damaged (its checksum does not match)`;
  const { name, offset } = checkpointSegment(control);
  const segmentStart = control.readBigUInt64LE(32) - BigInt(offset);
  if (!(await walIsSound(join(dir, name), segmentStart, offset))) return `its write-ahead log ${name} is damaged or missing`;
  return 'a table or catalog file is damaged (the control file and write-ahead log look sound)';
}
