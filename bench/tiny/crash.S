# crash: the restart child. It records CLOCK_MONOTONIC at its first
# instruction and again just before it exits, writes both timespecs (32
# bytes) to stdout in one write(2), and exits 1. No libc, no runtime: the
# gap between one child's second stamp and the next child's first is the
# supervisor's restart cost and nothing else.
	.globl _start
	.text
_start:
	sub	$32, %rsp
	mov	$228, %eax		# clock_gettime(CLOCK_MONOTONIC, rsp)
	mov	$1, %edi
	mov	%rsp, %rsi
	syscall
	mov	$228, %eax		# clock_gettime(CLOCK_MONOTONIC, rsp+16)
	mov	$1, %edi
	lea	16(%rsp), %rsi
	syscall
	mov	$1, %eax		# write(1, rsp, 32)
	mov	$1, %edi
	mov	%rsp, %rsi
	mov	$32, %edx
	syscall
	mov	$231, %eax		# exit_group(1)
	mov	$1, %edi
	syscall
