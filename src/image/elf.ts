/**
 * A small ELF reader: just enough of an executable or shared object to find
 * what the dynamic loader will load for it (PT_INTERP, DT_NEEDED, DT_RPATH,
 * DT_RUNPATH, DT_SONAME) and whether two objects can live in one process
 * (class, byte order, e_machine). ELF32/ELF64, little and big endian.
 *
 * Reads through a file handle, only the bytes needed (headers, the dynamic
 * section, the strings it names); never the whole file. Every offset, size and
 * count is checked against the file size before reading, so malformed files give
 * an InvalidArgument BerthError (`read ELF "/x": truncated program header table`)
 * instead of a crash or a huge allocation. Missing files give NotFound.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { BerthError, invalid, wrap } from '../core/errors.js';

export interface ElfInfo {
  kind: 'elf';
  /** The host path that was read. */
  path: string;
  bits: 32 | 64;
  littleEndian: boolean;
  /** e_ident[EI_OSABI]. */
  osabi: number;
  /** e_type: 2 ET_EXEC, 3 ET_DYN. */
  type: number;
  /** e_machine: 62 x86-64, 3 i386, 183 AArch64, ... */
  machine: number;
  /** e_flags (ARM float ABI etc.). */
  flags: number;
  /** PT_INTERP: the program interpreter (dynamic loader) path, if any. */
  interpreter?: string;
  /** Whether the object has a PT_DYNAMIC segment. */
  dynamic: boolean;
  /** DT_NEEDED names in order. */
  needed: string[];
  /** Raw DT_RPATH / DT_RUNPATH strings (colon-separated, DSTs unexpanded). */
  rpath?: string;
  runpath?: string;
  soname?: string;
  /** DT_FLAGS_1 has DF_1_NODEFLIB: skip ld.so.cache and default dirs for its deps. */
  nodeflib: boolean;
}

/** A `#!` script: `interpreter` is the first word after `#!`, `arg` the optional rest of the line. */
export interface ScriptInfo {
  kind: 'script';
  path: string;
  interpreter: string;
  arg?: string;
}

export type ExecutableInfo = ElfInfo | ScriptInfo;

/** Linux reads at most this much of a `#!` line (BINPRM_BUF_SIZE). */
const SHEBANG_MAX = 256;
const MAX_PHNUM = 65535;
const MAX_DYNAMIC_BYTES = 1 << 20;
const MAX_STRING = 1 << 16;

const PT_LOAD = 1,
  PT_DYNAMIC = 2,
  PT_INTERP = 3,
  PN_XNUM = 0xffff;
const DT_NULL = 0,
  DT_NEEDED = 1,
  DT_STRTAB = 5,
  DT_STRSZ = 10,
  DT_SONAME = 14,
  DT_RPATH = 15,
  DT_RUNPATH = 29;
const DT_FLAGS_1 = 0x6ffffffb,
  DF_1_NODEFLIB = 0x800;

/** Read an ELF object or a `#!` script; anything else is InvalidArgument `not_executable`. */
export async function readExecutable(path: string): Promise<ExecutableInfo> {
  return withFile(path, async (r) => {
    const head = await r.at(0, Math.min(SHEBANG_MAX, r.size));
    if (head.length >= 2 && head[0] === 0x23 && head[1] === 0x21) return parseShebang(path, head);
    if (!isElfMagic(head)) throw invalid('not_executable', `read ELF "${path}": not an ELF file or #! script`);
    return parseElf(path, r);
  });
}

/** Read an ELF object; a non-ELF file is InvalidArgument with code `not_elf`. */
export async function readElf(path: string): Promise<ElfInfo> {
  return withFile(path, async (r) => {
    if (!isElfMagic(await r.at(0, Math.min(4, r.size))))
      throw invalid('not_elf', `read ELF "${path}": not an ELF file`);
    return parseElf(path, r);
  });
}

/** Whether two objects can be loaded into one process (same class, byte order, machine). */
export function elfCompatible(a: ElfInfo, b: ElfInfo): boolean {
  return a.bits === b.bits && a.littleEndian === b.littleEndian && a.machine === b.machine;
}

/**
 * Parse a `#!` line as Linux does: skip blanks after `#!`, the interpreter runs to
 * the next blank, the rest of the line (trimmed) is one optional argument.
 */
export function parseShebang(path: string, head: Buffer): ScriptInfo {
  const nl = head.indexOf(0x0a);
  const line = head.subarray(2, nl < 0 ? head.length : nl).toString('latin1');
  const m = /^[ \t]*([^ \t]*)([ \t]*)(.*?)[ \t]*$/.exec(line);
  const interpreter = m?.[1] ?? '';
  if (interpreter === '') throw invalid('bad_shebang', `read script "${path}": empty #! interpreter`);
  // Like Linux >= 5.1: a truncated argument is tolerated, a truncated interpreter is not.
  if (nl < 0 && head.length >= SHEBANG_MAX && !m?.[2]) {
    throw invalid(
      'bad_shebang',
      `read script "${path}": #! interpreter longer than the ${SHEBANG_MAX}-byte line limit`,
    );
  }
  const arg = m?.[3] ?? '';
  return arg === '' ? { kind: 'script', path, interpreter } : { kind: 'script', path, interpreter, arg };
}

function isElfMagic(b: Buffer): boolean {
  return b.length >= 4 && b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46;
}

/** Bounds-checked positional reads of one open file. */
interface Reader {
  size: number;
  /** Exactly `len` bytes at `off`, or throws `truncated <what>`. */
  at(off: number, len: number, what?: string): Promise<Buffer>;
}

async function withFile<T>(path: string, fn: (r: Reader) => Promise<T>): Promise<T> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw wrap(`read ELF "${path}"`, err);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw invalid('not_executable', `read ELF "${path}": not a regular file`);
    const size = st.size;
    const at = async (off: number, len: number, what = 'data'): Promise<Buffer> => {
      if (!Number.isSafeInteger(off) || !Number.isSafeInteger(len) || off < 0 || len < 0 || off + len > size) {
        throw invalid('invalid_elf', `read ELF "${path}": truncated ${what}`);
      }
      const buf = Buffer.alloc(len);
      let done = 0;
      while (done < len) {
        const { bytesRead } = await fh.read(buf, done, len - done, off + done);
        if (bytesRead === 0) throw invalid('invalid_elf', `read ELF "${path}": truncated ${what}`);
        done += bytesRead;
      }
      return buf;
    };
    return await fn({ size, at });
  } catch (err) {
    throw err instanceof BerthError ? err : wrap(`read ELF "${path}"`, err);
  } finally {
    await fh.close();
  }
}

/** Field accessors for one class and byte order; 64-bit values beyond 2^53 become NaN (rejected by `at`). */
function fields(bits: 32 | 64, le: boolean) {
  const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const u64 = (b: Buffer, o: number) => {
    const v = le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : NaN;
  };
  const addr = bits === 64 ? u64 : u32;
  /** Dynamic tags are signed; the ones we use are small positive or 0x6ffffxxx, so read the low word. */
  const tag =
    bits === 64
      ? (b: Buffer, o: number) => {
          const v = le ? b.readBigInt64LE(o) : b.readBigInt64BE(o);
          return v >= 0n && v <= 0xffffffffn ? Number(v) : -1;
        }
      : (b: Buffer, o: number) => (le ? b.readInt32LE(o) : b.readInt32BE(o));
  return { u16, u32, addr, tag };
}

interface Phdr {
  type: number;
  offset: number;
  vaddr: number;
  filesz: number;
}

async function parseElf(path: string, r: Reader): Promise<ElfInfo> {
  const fail = (msg: string) => invalid('invalid_elf', `read ELF "${path}": ${msg}`);
  const ident = await r.at(0, 16, 'ELF header');
  const cls = ident[4],
    data = ident[5];
  if (cls !== 1 && cls !== 2) throw fail(`unknown ELF class ${cls}`);
  if (data !== 1 && data !== 2) throw fail(`unknown ELF data encoding ${data}`);
  if (ident[6] !== 1) throw fail(`unknown ELF version ${ident[6]}`);
  const bits = cls === 2 ? 64 : 32,
    le = data === 1;
  const f = fields(bits, le);
  const eh = await r.at(0, bits === 64 ? 64 : 52, 'ELF header');
  const w = bits === 64 ? 8 : 4; // address width
  const type = f.u16(eh, 16),
    machine = f.u16(eh, 18);
  const phoff = f.addr(eh, 24 + w),
    shoff = f.addr(eh, 24 + 2 * w);
  const flags = f.u32(eh, 24 + 3 * w);
  const phentsize = f.u16(eh, 24 + 3 * w + 6);
  let phnum = f.u16(eh, 24 + 3 * w + 8);
  const minPh = bits === 64 ? 56 : 32;
  if (phnum === PN_XNUM) {
    // The real count lives in section header 0's sh_info.
    const sh = await r.at(shoff, bits === 64 ? 64 : 40, 'section header 0 (PN_XNUM)');
    phnum = f.u32(sh, bits === 64 ? 44 : 28);
  }
  if (phnum > MAX_PHNUM) throw fail(`program header count ${phnum} exceeds ${MAX_PHNUM}`);
  if (phnum > 0 && phentsize < minPh) throw fail(`program header entry size ${phentsize} is smaller than ${minPh}`);
  const table = await r.at(phoff, phnum * phentsize, 'program header table');
  const phdrs: Phdr[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = i * phentsize;
    phdrs.push(
      bits === 64
        ? {
            type: f.u32(table, o),
            offset: f.addr(table, o + 8),
            vaddr: f.addr(table, o + 16),
            filesz: f.addr(table, o + 32),
          }
        : {
            type: f.u32(table, o),
            offset: f.u32(table, o + 4),
            vaddr: f.u32(table, o + 8),
            filesz: f.u32(table, o + 16),
          },
    );
  }
  const info: ElfInfo = {
    kind: 'elf',
    path,
    bits,
    littleEndian: le,
    osabi: ident[7] ?? 0,
    type,
    machine,
    flags,
    dynamic: false,
    needed: [],
    nodeflib: false,
  };
  const interp = phdrs.find((p) => p.type === PT_INTERP);
  if (interp) {
    if (interp.filesz > 4096) throw fail(`PT_INTERP size ${interp.filesz} is too large`);
    const b = await r.at(interp.offset, interp.filesz, 'PT_INTERP');
    const nul = b.indexOf(0);
    if (nul <= 0) throw fail(nul === 0 ? 'empty PT_INTERP' : 'PT_INTERP is not NUL-terminated');
    info.interpreter = b.subarray(0, nul).toString('utf8');
  }
  const dyn = phdrs.find((p) => p.type === PT_DYNAMIC);
  if (!dyn) return info;
  info.dynamic = true;
  if (dyn.filesz > MAX_DYNAMIC_BYTES) throw fail(`PT_DYNAMIC size ${dyn.filesz} is too large`);
  const db = await r.at(dyn.offset, dyn.filesz, 'dynamic section');
  const ent = bits === 64 ? 16 : 8;
  const needed: number[] = [];
  let strtab: number | undefined, strsz: number | undefined, soname: number | undefined;
  let rpath: number | undefined, runpath: number | undefined;
  for (let o = 0; o + ent <= db.length; o += ent) {
    const tag = f.tag(db, o),
      val = f.addr(db, o + w);
    if (tag === DT_NULL) break;
    if (tag === DT_NEEDED) needed.push(val);
    else if (tag === DT_STRTAB) strtab = val;
    else if (tag === DT_STRSZ) strsz = val;
    else if (tag === DT_SONAME) soname = val;
    else if (tag === DT_RPATH) rpath ??= val;
    else if (tag === DT_RUNPATH) runpath ??= val;
    else if (tag === DT_FLAGS_1) info.nodeflib = (val & DF_1_NODEFLIB) !== 0;
  }
  if (needed.length === 0 && soname === undefined && rpath === undefined && runpath === undefined) return info;
  if (strtab === undefined) throw fail('dynamic section has strings but no DT_STRTAB');
  const load = phdrs.find((p) => p.type === PT_LOAD && p.vaddr <= strtab! && strtab! < p.vaddr + p.filesz);
  if (!load) throw fail(`DT_STRTAB address 0x${strtab.toString(16)} is not in any PT_LOAD segment`);
  const base = load.offset + (strtab - load.vaddr);
  const limit = Math.min(strsz ?? Infinity, load.vaddr + load.filesz - strtab, r.size - base);
  if (!(limit > 0)) throw fail(`dynamic string table at offset ${base} is past the end of the file`);
  const str = async (off: number, what: string): Promise<string> => {
    if (!(off < limit)) throw fail(`${what} string offset ${off} is outside the dynamic string table`);
    let want = 256;
    for (;;) {
      const len = Math.min(want, limit - off);
      const b = await r.at(base + off, len, 'dynamic string table');
      const nul = b.indexOf(0);
      if (nul >= 0) return b.subarray(0, nul).toString('utf8');
      if (len < want || want >= MAX_STRING) throw fail(`${what} string at offset ${off} is not NUL-terminated`);
      want *= 16;
    }
  };
  for (const n of needed) info.needed.push(await str(n, 'DT_NEEDED'));
  if (soname !== undefined) info.soname = await str(soname, 'DT_SONAME');
  if (rpath !== undefined) info.rpath = await str(rpath, 'DT_RPATH');
  if (runpath !== undefined) info.runpath = await str(runpath, 'DT_RUNPATH');
  return info;
}
