package arch

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
)

// ELFInfo is what an executable's ELF header says about the userland that
// runs it.
type ELFInfo struct {
	// Path is the file the header was read from.
	Path    string
	Class   elf.Class
	Data    elf.Data
	Machine elf.Machine
	// FloatABI is "hard" or "soft" for ARM EABI binaries whose header says
	// so, empty otherwise (Go's linker, for one, does not say).
	FloatABI string
}

// Bits returns 32 or 64.
func (e ELFInfo) Bits() int {
	if e.Class == elf.ELFCLASS64 {
		return 64
	}
	return 32
}

// String describes the header like file(1) would, briefly.
func (e ELFInfo) String() string {
	order := map[elf.Data]string{elf.ELFDATA2LSB: "LSB", elf.ELFDATA2MSB: "MSB"}[e.Data]
	name, ok := map[elf.Machine]string{
		elf.EM_X86_64: "x86-64", elf.EM_386: "Intel 80386", elf.EM_AARCH64: "ARM aarch64",
		elf.EM_ARM: "ARM", elf.EM_PPC64: "64-bit PowerPC", elf.EM_S390: "IBM S/390", elf.EM_RISCV: "RISC-V",
	}[e.Machine]
	if !ok {
		name = e.Machine.String()
	}
	s := fmt.Sprintf("ELF %d-bit %s %s", e.Bits(), order, name)
	if e.FloatABI != "" {
		s += ", " + e.FloatABI + "-float"
	}
	return s
}

// ARM EABI e_flags bits that record the float calling convention
// (ELF for the Arm Architecture, "e_flags").
const (
	efARMABIFloatSoft = 0x200
	efARMABIFloatHard = 0x400
)

// readELF reads the ELF header of path in fsys. Only the 52- or 64-byte
// file header is read, so a truncated or huge file costs nothing; it
// returns an error when the file cannot be read or is not ELF.
func readELF(fsys fs.FS, path string) (ELFInfo, error) {
	f, err := fsys.Open(path)
	if err != nil {
		return ELFInfo{}, err
	}
	defer f.Close()
	var h [64]byte
	n, err := io.ReadFull(f, h[:])
	if err != nil && err != io.ErrUnexpectedEOF {
		return ELFInfo{}, fmt.Errorf("read ELF header of /%s: %w", path, err)
	}
	return parseELFHeader(path, h[:n])
}

// parseELFHeader decodes the identification, machine and flags fields of
// an ELF file header.
func parseELFHeader(path string, h []byte) (ELFInfo, error) {
	if len(h) < 52 || string(h[:4]) != elf.ELFMAG {
		return ELFInfo{}, fmt.Errorf("/%s is not an ELF file", path)
	}
	e := ELFInfo{Path: "/" + path, Class: elf.Class(h[elf.EI_CLASS]), Data: elf.Data(h[elf.EI_DATA])}
	var bo binary.ByteOrder
	switch e.Data {
	case elf.ELFDATA2LSB:
		bo = binary.LittleEndian
	case elf.ELFDATA2MSB:
		bo = binary.BigEndian
	default:
		return ELFInfo{}, fmt.Errorf("/%s: bad ELF data encoding %d", path, h[elf.EI_DATA])
	}
	// e_flags follows e_entry, e_phoff and e_shoff, whose size is the
	// class's address size.
	flagsAt := 36
	switch e.Class {
	case elf.ELFCLASS32:
	case elf.ELFCLASS64:
		flagsAt = 48
		if len(h) < 64 {
			return ELFInfo{}, fmt.Errorf("/%s: truncated ELF header", path)
		}
	default:
		return ELFInfo{}, fmt.Errorf("/%s: bad ELF class %d", path, h[elf.EI_CLASS])
	}
	e.Machine = elf.Machine(bo.Uint16(h[18:20]))
	if e.Machine == elf.EM_ARM {
		flags := bo.Uint32(h[flagsAt : flagsAt+4])
		switch {
		case flags&efARMABIFloatHard != 0:
			e.FloatABI = "hard"
		case flags&efARMABIFloatSoft != 0:
			e.FloatABI = "soft"
		}
	}
	return e, nil
}

// targetsForELF returns the rows whose binaries look like e: one row, or
// both 32-bit ARM rows when the header does not record the float ABI.
func targetsForELF(e ELFInfo) []Target {
	var out []Target
	for _, t := range table {
		if t.ELFMachine != e.Machine || t.ELFData != e.Data || t.Bits != e.Bits() {
			continue
		}
		if e.FloatABI != "" && t.FloatABI != e.FloatABI {
			continue
		}
		out = append(out, t)
	}
	return out
}
