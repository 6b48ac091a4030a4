package installer

import (
	"encoding/binary"
	"fmt"
)

// OpenPGP packet tags of secret key material (RFC 4880 §4.3).
const (
	tagSecretKey    = 5
	tagSecretSubkey = 7
)

// publicKeyring walks the packets of a binary OpenPGP keyring and refuses
// secret key packets: an exported secret keyring looks much like a public one.
func publicKeyring(data []byte) error {
	for off := 0; off < len(data); {
		b := data[off]
		if b&0x80 == 0 {
			return fmt.Errorf("byte %d is not an OpenPGP packet header (is the keyring ASCII-armored? use the binary form)", off)
		}
		var tag, hdr, n int
		if b&0x40 != 0 { // new format
			tag = int(b & 0x3f)
			if off+1 >= len(data) {
				return fmt.Errorf("packet at byte %d is cut short", off)
			}
			switch l := int(data[off+1]); {
			case l < 192:
				hdr, n = 2, l
			case l < 224 && off+2 < len(data):
				hdr, n = 3, (l-192)<<8+int(data[off+2])+192
			case l == 255 && off+5 < len(data):
				hdr, n = 6, int(binary.BigEndian.Uint32(data[off+2:]))
			default:
				return fmt.Errorf("packet at byte %d has a partial or cut-short length, which keyrings do not use", off)
			}
		} else { // old format
			tag = int(b>>2) & 0xf
			size := []int{1, 2, 4, 0}[b&3]
			if size == 0 || off+size >= len(data) {
				return fmt.Errorf("packet at byte %d has an indeterminate or cut-short length", off)
			}
			hdr = 1 + size
			for _, c := range data[off+1 : off+hdr] {
				n = n<<8 | int(c)
			}
		}
		if tag == tagSecretKey || tag == tagSecretSubkey {
			return fmt.Errorf("packet at byte %d is secret key material; export the public key only", off)
		}
		if n < 0 || off+hdr+n > len(data) {
			return fmt.Errorf("packet at byte %d runs past the end", off)
		}
		off += hdr + n
	}
	if len(data) == 0 {
		return fmt.Errorf("is empty")
	}
	return nil
}
