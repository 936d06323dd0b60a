;; ticker [N]: prints "tick" once a second, N times (default 3; 0 means forever), then exits 0.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 2)
  (data (i32.const 1024) "tick\n")

  (func $tick
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.const 5))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))

  ;; Sleeps one second: a relative clock subscription at 256, its event at 512.
  (func $sleep
    (i64.store (i32.const 256) (i64.const 0))          ;; userdata
    (i32.store8 (i32.const 264) (i32.const 0))         ;; tag: clock
    (i32.store (i32.const 272) (i32.const 1))          ;; clock id: monotonic
    (i64.store (i32.const 280) (i64.const 1000000000)) ;; timeout: 1 s
    (i64.store (i32.const 288) (i64.const 1000000))    ;; precision
    (i32.store16 (i32.const 296) (i32.const 0))        ;; flags: relative
    (drop (call $poll_oneoff (i32.const 256) (i32.const 512) (i32.const 1) (i32.const 600))))

  ;; Decimal value of the NUL-terminated string at p (non-digits end it).
  (func $atoi (param $p i32) (result i32) (local $n i32) (local $c i32)
    (block $done
      (loop $next
        (local.set $c (i32.load8_u (local.get $p)))
        (br_if $done (i32.lt_u (local.get $c) (i32.const 48)))
        (br_if $done (i32.gt_u (local.get $c) (i32.const 57)))
        (local.set $n (i32.add (i32.mul (local.get $n) (i32.const 10)) (i32.sub (local.get $c) (i32.const 48))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next)))
    (local.get $n))

  (func (export "_start") (local $count i32) (local $i i32)
    (local.set $count (i32.const 3))
    (drop (call $args_sizes_get (i32.const 16) (i32.const 20)))
    (if (i32.and (i32.ge_u (i32.load (i32.const 16)) (i32.const 2))
                 (i32.and (i32.le_u (i32.load (i32.const 20)) (i32.const 100000)) (i32.le_u (i32.load (i32.const 16)) (i32.const 1024))))
      (then
        (drop (call $args_get (i32.const 2048) (i32.const 8192)))
        (local.set $count (call $atoi (i32.load (i32.const 2052))))))
    (block $end
      (loop $next
        (br_if $end (i32.and (i32.ne (local.get $count) (i32.const 0)) (i32.ge_u (local.get $i) (local.get $count))))
        (call $tick)
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $end (i32.and (i32.ne (local.get $count) (i32.const 0)) (i32.ge_u (local.get $i) (local.get $count))))
        (call $sleep)
        (br $next)))
    (call $proc_exit (i32.const 0))))
