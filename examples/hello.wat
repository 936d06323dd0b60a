;; hello: prints a greeting and its arguments, one per line, then exits 0.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 2)
  (data (i32.const 1024) "Hello from WebAssembly on kcore!\n")
  (data (i32.const 1060) "arg: ")
  (data (i32.const 1070) "\n")

  ;; Writes len bytes at ptr to stdout (iovec at 0, nwritten at 8).
  (func $write (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))

  (func $strlen (param $p i32) (result i32) (local $n i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (i32.load8_u (i32.add (local.get $p) (local.get $n)))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $n))

  (func (export "_start") (local $argc i32) (local $i i32) (local $p i32)
    (call $write (i32.const 1024) (i32.const 33))
    ;; argc at 16, argv buffer size at 20; argv pointers at 2048, strings from 8192.
    (drop (call $args_sizes_get (i32.const 16) (i32.const 20)))
    (if (i32.gt_u (i32.load (i32.const 20)) (i32.const 122880)) (then (call $proc_exit (i32.const 2))))
    (if (i32.gt_u (i32.load (i32.const 16)) (i32.const 1024)) (then (call $proc_exit (i32.const 2))))
    (drop (call $args_get (i32.const 2048) (i32.const 8192)))
    (local.set $argc (i32.load (i32.const 16)))
    (local.set $i (i32.const 1))
    (block $end
      (loop $next
        (br_if $end (i32.ge_u (local.get $i) (local.get $argc)))
        (local.set $p (i32.load (i32.add (i32.const 2048) (i32.mul (local.get $i) (i32.const 4)))))
        (call $write (i32.const 1060) (i32.const 5))
        (call $write (local.get $p) (call $strlen (local.get $p)))
        (call $write (i32.const 1070) (i32.const 1))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (call $proc_exit (i32.const 0))))
