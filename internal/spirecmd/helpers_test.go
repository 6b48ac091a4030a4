package spirecmd

import "homeworld.dev/homeworld/internal/config"

func configTemplate() []byte { return config.Template }
