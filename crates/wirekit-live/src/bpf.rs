//! Classic BPF: the instruction format, a validator and an interpreter.
//!
//! Programs come from libpcap's compiler (`pcap_compile`), so the semantics follow
//! libpcap's own `bpf_filter()`: a load outside the captured bytes rejects the packet,
//! `ld len` is the length on the wire, division or modulo by zero rejects, a shift by X of
//! 32 or more gives 0. A constant shift (`K`) of 32 or more is refused by the validator, as
//! the kernel's checker refuses it, so a program runs the same here and attached to a
//! socket. The return value is the snapshot length to keep (0 = reject).
//!
//! The same program can be attached to a socket (the kernel runs it) or run here over a
//! batch of records from a file.

/// One classic BPF instruction (`struct sock_filter` / `struct bpf_insn`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

impl Insn {
    pub const fn new(code: u16, jt: u8, jf: u8, k: u32) -> Self {
        Insn { code, jt, jf, k }
    }
}

// Instruction classes and fields (linux/filter.h, pcap/bpf.h).
pub const LD: u16 = 0x00;
pub const LDX: u16 = 0x01;
pub const ST: u16 = 0x02;
pub const STX: u16 = 0x03;
pub const ALU: u16 = 0x04;
pub const JMP: u16 = 0x05;
pub const RET: u16 = 0x06;
pub const MISC: u16 = 0x07;

pub const W: u16 = 0x00;
pub const H: u16 = 0x08;
pub const B: u16 = 0x10;

pub const IMM: u16 = 0x00;
pub const ABS: u16 = 0x20;
pub const IND: u16 = 0x40;
pub const MEM: u16 = 0x60;
pub const LEN: u16 = 0x80;
pub const MSH: u16 = 0xa0;

pub const ADD: u16 = 0x00;
pub const SUB: u16 = 0x10;
pub const MUL: u16 = 0x20;
pub const DIV: u16 = 0x30;
pub const OR: u16 = 0x40;
pub const AND: u16 = 0x50;
pub const LSH: u16 = 0x60;
pub const RSH: u16 = 0x70;
pub const NEG: u16 = 0x80;
pub const MOD: u16 = 0x90;
pub const XOR: u16 = 0xa0;

pub const JA: u16 = 0x00;
pub const JEQ: u16 = 0x10;
pub const JGT: u16 = 0x20;
pub const JGE: u16 = 0x30;
pub const JSET: u16 = 0x40;

pub const K: u16 = 0x00;
pub const X: u16 = 0x08;
pub const A: u16 = 0x10;

pub const TAX: u16 = 0x00;
pub const TXA: u16 = 0x80;

/// Scratch memory words (BPF_MEMWORDS).
pub const MEMWORDS: usize = 16;
/// Longest program the kernel accepts (BPF_MAXINSNS); we hold files to the same cap.
pub const MAX_INSNS: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidProgram {
    pub index: usize,
    pub reason: &'static str,
}

impl std::fmt::Display for InvalidProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid BPF program at instruction {}: {}", self.index, self.reason)
    }
}

impl std::error::Error for InvalidProgram {}

/// A validated program: every jump lands inside it, the last instruction returns, scratch
/// indexes are in range, no constant division by zero. Only such programs run.
#[derive(Clone, Debug)]
pub struct Program {
    insns: Vec<Insn>,
}

impl Program {
    pub fn new(insns: Vec<Insn>) -> Result<Self, InvalidProgram> {
        validate(&insns)?;
        Ok(Program { insns })
    }

    pub fn insns(&self) -> &[Insn] {
        &self.insns
    }

    /// Runs the program over `pkt` (the captured bytes) whose wire length is `wire_len`.
    /// Returns how many bytes to keep; 0 rejects the packet.
    pub fn run(&self, pkt: &[u8], wire_len: u32) -> u32 {
        run(&self.insns, pkt, wire_len)
    }
}

fn validate(insns: &[Insn]) -> Result<(), InvalidProgram> {
    let bad = |index, reason| Err(InvalidProgram { index, reason });
    if insns.is_empty() {
        return bad(0, "empty program");
    }
    if insns.len() > MAX_INSNS {
        return bad(MAX_INSNS, "more than 4096 instructions");
    }
    for (i, ins) in insns.iter().enumerate() {
        let rest = insns.len() - i - 1; // instructions after this one
        match ins.code & 0x07 {
            LD | LDX => match ins.code & 0xe0 {
                IMM | ABS | IND | LEN => {}
                MEM => {
                    if ins.k as usize >= MEMWORDS {
                        return bad(i, "scratch memory index out of range");
                    }
                }
                MSH if ins.code & 0x07 == LDX => {}
                _ => return bad(i, "unknown load mode"),
            },
            ST | STX => {
                if ins.k as usize >= MEMWORDS {
                    return bad(i, "scratch memory index out of range");
                }
            }
            ALU => match ins.code & 0xf0 {
                ADD | SUB | MUL | OR | AND | NEG | XOR => {}
                // As the kernel's checker: a constant shift of 32 or more is no program
                // (libpcap's interpreter would shift by k mod 32 on x86, the kernel refuses).
                LSH | RSH => {
                    if ins.code & X == 0 && ins.k >= 32 {
                        return bad(i, "constant shift by 32 or more");
                    }
                }
                DIV | MOD => {
                    if ins.code & X == 0 && ins.k == 0 {
                        return bad(i, "division by constant zero");
                    }
                }
                _ => return bad(i, "unknown ALU operation"),
            },
            JMP => {
                let op = ins.code & 0xf0;
                if op == JA {
                    if ins.k as usize >= rest {
                        return bad(i, "jump out of the program");
                    }
                } else if !matches!(op, JEQ | JGT | JGE | JSET) {
                    return bad(i, "unknown jump");
                } else if ins.jt as usize >= rest || ins.jf as usize >= rest {
                    return bad(i, "jump out of the program");
                }
            }
            RET => {}
            MISC => {}
            _ => unreachable!(),
        }
    }
    if insns[insns.len() - 1].code & 0x07 != RET {
        return bad(insns.len() - 1, "program does not end with a return");
    }
    Ok(())
}

#[inline]
fn load(pkt: &[u8], off: u32, size: u16) -> Option<u32> {
    let off = off as usize;
    match size {
        W => pkt.get(off..off.checked_add(4)?).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
        H => pkt.get(off..off.checked_add(2)?).map(|b| u16::from_be_bytes([b[0], b[1]]) as u32),
        B => pkt.get(off).map(|b| *b as u32),
        _ => None,
    }
}

/// The interpreter. `insns` must have passed `validate` (Program guarantees it).
fn run(insns: &[Insn], pkt: &[u8], wire_len: u32) -> u32 {
    let mut a: u32 = 0;
    let mut x: u32 = 0;
    let mut mem = [0u32; MEMWORDS];
    let mut pc = 0usize;
    loop {
        let ins = insns[pc];
        pc += 1;
        let class = ins.code & 0x07;
        match class {
            LD => {
                a = match ins.code & 0xe0 {
                    IMM => ins.k,
                    LEN => wire_len,
                    MEM => mem[ins.k as usize],
                    ABS => match load(pkt, ins.k, ins.code & 0x18) {
                        Some(v) => v,
                        None => return 0,
                    },
                    IND => match x.checked_add(ins.k).and_then(|o| load(pkt, o, ins.code & 0x18)) {
                        Some(v) => v,
                        None => return 0,
                    },
                    _ => return 0,
                }
            }
            LDX => {
                x = match ins.code & 0xe0 {
                    IMM => ins.k,
                    LEN => wire_len,
                    MEM => mem[ins.k as usize],
                    MSH => match pkt.get(ins.k as usize) {
                        Some(b) => ((b & 0x0f) as u32) << 2,
                        None => return 0,
                    },
                    _ => return 0,
                }
            }
            ST => mem[ins.k as usize] = a,
            STX => mem[ins.k as usize] = x,
            ALU => {
                let v = if ins.code & X != 0 { x } else { ins.k };
                a = match ins.code & 0xf0 {
                    ADD => a.wrapping_add(v),
                    SUB => a.wrapping_sub(v),
                    MUL => a.wrapping_mul(v),
                    DIV => {
                        if v == 0 {
                            return 0;
                        }
                        a / v
                    }
                    MOD => {
                        if v == 0 {
                            return 0;
                        }
                        a % v
                    }
                    OR => a | v,
                    AND => a & v,
                    XOR => a ^ v,
                    LSH => a.checked_shl(v).unwrap_or(0),
                    RSH => a.checked_shr(v).unwrap_or(0),
                    NEG => a.wrapping_neg(),
                    _ => return 0,
                }
            }
            JMP => {
                let op = ins.code & 0xf0;
                if op == JA {
                    pc += ins.k as usize;
                    continue;
                }
                let v = if ins.code & X != 0 { x } else { ins.k };
                let taken = match op {
                    JEQ => a == v,
                    JGT => a > v,
                    JGE => a >= v,
                    JSET => a & v != 0,
                    _ => return 0,
                };
                pc += if taken { ins.jt as usize } else { ins.jf as usize };
            }
            RET => {
                return match ins.code & 0x18 {
                    K => ins.k,
                    X => x,
                    A => a,
                    _ => 0,
                }
            }
            MISC => {
                if ins.code & 0xf8 == TXA {
                    a = x
                } else {
                    x = a
                }
            }
            _ => return 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // `tcpdump -d -y EN10MB ip` (libpcap 1.10)
    fn ip_only() -> Program {
        Program::new(vec![
            Insn::new(LD | H | ABS, 0, 0, 12),
            Insn::new(JMP | JEQ | K, 0, 1, 0x0800),
            Insn::new(RET | K, 0, 0, 262144),
            Insn::new(RET | K, 0, 0, 0),
        ])
        .unwrap()
    }

    fn frame(ethertype: u16) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20];
        f[12..14].copy_from_slice(&ethertype.to_be_bytes());
        f
    }

    #[test]
    fn accepts_and_rejects_by_ethertype() {
        let p = ip_only();
        assert_eq!(p.run(&frame(0x0800), 34), 262144);
        assert_eq!(p.run(&frame(0x86dd), 34), 0);
    }

    #[test]
    fn load_past_caplen_rejects() {
        assert_eq!(ip_only().run(&[0u8; 13], 60), 0);
    }

    #[test]
    fn msh_and_indirect_load_read_tcp_port() {
        // ldxb 4*([14]&0xf); ldh [x+16] ; ret a   (TCP destination port behind an IPv4 header)
        let p = Program::new(vec![
            Insn::new(LDX | B | MSH, 0, 0, 14),
            Insn::new(LD | H | IND, 0, 0, 16),
            Insn::new(RET | A, 0, 0, 0),
        ])
        .unwrap();
        let mut f = frame(0x0800);
        f[14] = 0x45;
        f.extend_from_slice(&[0x12, 0x34, 0x00, 0x50]);
        assert_eq!(p.run(&f, f.len() as u32), 80);
    }

    #[test]
    fn len_is_wire_length_and_alu_division_by_x_zero_rejects() {
        let p = Program::new(vec![Insn::new(LD | W | LEN, 0, 0, 0), Insn::new(RET | A, 0, 0, 0)]).unwrap();
        assert_eq!(p.run(&[0u8; 10], 1514), 1514);
        let p = Program::new(vec![
            Insn::new(LD | IMM, 0, 0, 7),
            Insn::new(LDX | IMM, 0, 0, 0),
            Insn::new(ALU | DIV | X, 0, 0, 0),
            Insn::new(RET | K, 0, 0, 1),
        ])
        .unwrap();
        assert_eq!(p.run(&[], 0), 0);
    }

    #[test]
    fn scratch_memory_and_shifts() {
        let p = Program::new(vec![
            Insn::new(LD | IMM, 0, 0, 1),
            Insn::new(LDX | IMM, 0, 0, 40),
            Insn::new(ALU | LSH | X, 0, 0, 0), // shift by X >= 32 gives 0, as in libpcap
            Insn::new(ST, 0, 0, 3),
            Insn::new(LDX | MEM, 0, 0, 3),
            Insn::new(MISC | TXA, 0, 0, 0),
            Insn::new(ALU | ADD | K, 0, 0, 5),
            Insn::new(RET | A, 0, 0, 0),
        ])
        .unwrap();
        assert_eq!(p.run(&[], 0), 5);
    }

    #[test]
    fn validator_rejects_bad_programs() {
        assert_eq!(Program::new(vec![]).unwrap_err().reason, "empty program");
        assert!(Program::new(vec![Insn::new(JMP | JA, 0, 0, 1), Insn::new(RET | K, 0, 0, 1)]).is_err());
        assert!(Program::new(vec![Insn::new(JMP | JEQ | K, 1, 0, 0), Insn::new(RET | K, 0, 0, 1)]).is_err());
        assert!(Program::new(vec![Insn::new(LD | MEM, 0, 0, 16), Insn::new(RET | K, 0, 0, 1)]).is_err());
        assert!(Program::new(vec![Insn::new(ALU | DIV | K, 0, 0, 0), Insn::new(RET | K, 0, 0, 1)]).is_err());
        assert!(Program::new(vec![Insn::new(ALU | LSH | K, 0, 0, 32), Insn::new(RET | K, 0, 0, 1)]).is_err());
        assert!(Program::new(vec![Insn::new(LD | IMM, 0, 0, 0)]).is_err());
    }
}
