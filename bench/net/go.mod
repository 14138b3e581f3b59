module goro/bench/net

go 1.19
