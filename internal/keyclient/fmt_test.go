package keyclient_test

import "fmt"

var fmtSprintf = fmt.Sprintf
