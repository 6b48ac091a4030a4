package isoimage

import (
	"fmt"
	"strings"
)

// serialConsole is the console for Options.Serial.
const serialConsole = "console=ttyS0,115200n8"

// markerFile sits at the ISO's root so that grub, which starts from the EFI
// image, can find the ISO filesystem holding the kernel and initrd.
const markerFile = "homeworld-installer"

// kernelArgs returns the installer's command line. Arguments after "---"
// are also given to the installed system's kernel, so the serial console
// goes there.
func kernelArgs(o Options) ([]string, error) {
	args := []string{"auto=true", "priority=critical", "preseed/file=/preseed.cfg"}
	for _, a := range o.KernelArgs {
		if a == "" || strings.ContainsAny(a, " \t\r\n\"'\\$;{}|&<>#`") {
			return nil, fmt.Errorf("kernel argument %q: give one argument without spaces, quotes or shell characters", a)
		}
		args = append(args, a)
	}
	args = append(args, "---")
	if o.Serial {
		args = append(args, serialConsole)
	}
	return args, nil
}

// isolinuxConfig boots the installer at once, without a menu.
func isolinuxConfig(serial bool, args []string) string {
	var b strings.Builder
	if serial {
		b.WriteString("serial 0 115200\n")
	}
	fmt.Fprintf(&b, "default install\nprompt 0\ntimeout 0\n\nlabel install\n\tkernel /linux\n\tappend initrd=/initrd.gz %s\n", strings.Join(args, " "))
	return b.String()
}

// grubConfig is the UEFI side of isolinuxConfig. Debian's signed grub has
// the commands it uses built in, so it loads no modules.
func grubConfig(serial bool, args []string) string {
	var b strings.Builder
	if serial {
		b.WriteString("serial --unit=0 --speed=115200 --word=8 --parity=no --stop=1\nterminal_input serial console\nterminal_output serial console\n")
	}
	fmt.Fprintf(&b, "set default=0\nset timeout=0\nsearch --no-floppy --set=root --file /%s\n\nmenuentry 'Install' {\n\tlinux /linux %s\n\tinitrd /initrd.gz\n}\n", markerFile, strings.Join(args, " "))
	return b.String()
}
