# sigwait: the signal-latency child. It blocks SIGUSR1 and SIGTERM, writes
# one record with signo 0 to say it is ready, then loops on
# rt_sigtimedwait and writes one 24-byte record per signal taken:
# [signo int64][tv_sec int64][tv_nsec int64], CLOCK_MONOTONIC read right
# after the kernel handed it the signal. No handler, no runtime.
	.globl _start
	.text
_start:
	sub	$64, %rsp
	movq	$0x4200, (%rsp)		# sigset: SIGUSR1 (10) | SIGTERM (15)
	mov	$14, %eax		# rt_sigprocmask(SIG_BLOCK, rsp, NULL, 8)
	xor	%edi, %edi
	mov	%rsp, %rsi
	xor	%edx, %edx
	mov	$8, %r10d
	syscall
	xor	%eax, %eax		# the ready record: signo 0
	jmp	stamp
wait:
	mov	$128, %eax		# rt_sigtimedwait(rsp, NULL, NULL, 8)
	mov	%rsp, %rdi
	xor	%esi, %esi
	xor	%edx, %edx
	mov	$8, %r10d
	syscall
stamp:
	mov	%rax, 8(%rsp)
	mov	$228, %eax		# clock_gettime(CLOCK_MONOTONIC, rsp+16)
	mov	$1, %edi
	lea	16(%rsp), %rsi
	syscall
	mov	$1, %eax		# write(1, rsp+8, 24)
	mov	$1, %edi
	lea	8(%rsp), %rsi
	mov	$24, %edx
	syscall
	test	%rax, %rax		# stdout gone: exit
	jle	out
	jmp	wait
out:
	mov	$231, %eax		# exit_group(0)
	xor	%edi, %edi
	syscall
