# storm: the reaping child. It forks an intermediate process and waits for
# it; the intermediate vforks N children that exit at once, records
# CLOCK_MONOTONIC and exits itself, so that its N zombies are re-parented to
# the init together. The storm child then stays alive (pause) so the init
# keeps running. N is the imm32 of the first instruction (bytes 2-5 of the
# code), patched by the harness. The intermediate writes one 24-byte record
# to stdout: [forks that succeeded int64][tv_sec int64][tv_nsec int64].
	.globl _start
	.text
_start:
	mov	$10000, %r12d		# N, patched
	xor	%r13d, %r13d		# forks that succeeded
	sub	$64, %rsp
	mov	$57, %eax		# fork()
	syscall
	test	%rax, %rax
	jz	inter
	mov	%rax, %rdi
reap:
	mov	$61, %eax		# wait4(pid, NULL, 0, NULL)
	xor	%esi, %esi
	xor	%edx, %edx
	xor	%r10d, %r10d
	syscall
	cmp	$-4, %rax		# EINTR: again
	je	reap
idle:
	mov	$34, %eax		# pause()
	syscall
	jmp	idle
inter:
	mov	$56, %eax		# vfork: clone(CLONE_VM|CLONE_VFORK|SIGCHLD, 0, ...)
	mov	$0x4111, %edi		# (a plain fork costs ~15x more here)
	xor	%esi, %esi
	xor	%edx, %edx
	xor	%r10d, %r10d
	xor	%r8d, %r8d
	syscall
	test	%rax, %rax
	jz	orphan
	js	next			# failed: count it out
	inc	%r13
next:
	dec	%r12d
	jnz	inter
	mov	%r13, (%rsp)
	mov	$228, %eax		# clock_gettime(CLOCK_MONOTONIC, rsp+8)
	mov	$1, %edi
	lea	8(%rsp), %rsi
	syscall
	mov	$1, %eax		# write(1, rsp, 24)
	mov	$1, %edi
	mov	%rsp, %rsi
	mov	$24, %edx
	syscall
	mov	$231, %eax		# exit_group(0)
	xor	%edi, %edi
	syscall
orphan:
	mov	$231, %eax		# exit_group(0)
	xor	%edi, %edi
	syscall
