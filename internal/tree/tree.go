// Package tree holds checks on the repository as a whole (package
// documentation, layout rules). It has no code of its own; nothing imports it.
package tree
