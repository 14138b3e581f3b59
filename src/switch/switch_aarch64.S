// goro's context switch for AArch64 (AAPCS64).
//
// goro_context_switch(void** from_sp /*x0*/, void* to_sp /*x1*/)
//   saves x19-x28, fp, lr and d8-d15 in a 176-byte frame on the running
//   stack, stores sp in *from_sp, loads to_sp, restores the same frame from
//   there and returns (to the restored lr).
//
// A new context's frame (laid out by context_make) has lr =
// goro_context_trampoline, x19 = entry function, x20 = its argument.

        .text
        .globl  goro_context_switch
        .hidden goro_context_switch
        .type   goro_context_switch, %function
        .p2align 4
goro_context_switch:
        .cfi_startproc
        sub     sp, sp, #176
        stp     x19, x20, [sp, #0]
        stp     x21, x22, [sp, #16]
        stp     x23, x24, [sp, #32]
        stp     x25, x26, [sp, #48]
        stp     x27, x28, [sp, #64]
        stp     x29, x30, [sp, #80]
        stp     d8,  d9,  [sp, #96]
        stp     d10, d11, [sp, #112]
        stp     d12, d13, [sp, #128]
        stp     d14, d15, [sp, #144]
        mov     x9, sp
        str     x9, [x0]
        mov     sp, x1
        ldp     x19, x20, [sp, #0]
        ldp     x21, x22, [sp, #16]
        ldp     x23, x24, [sp, #32]
        ldp     x25, x26, [sp, #48]
        ldp     x27, x28, [sp, #64]
        ldp     x29, x30, [sp, #80]
        ldp     d8,  d9,  [sp, #96]
        ldp     d10, d11, [sp, #112]
        ldp     d12, d13, [sp, #128]
        ldp     d14, d15, [sp, #144]
        add     sp, sp, #176
        ret
        .cfi_endproc
        .size   goro_context_switch, .-goro_context_switch

        .globl  goro_context_trampoline
        .hidden goro_context_trampoline
        .type   goro_context_trampoline, %function
        .p2align 4
goro_context_trampoline:
        .cfi_startproc
        .cfi_undefined x30
        mov     x29, #0
        mov     x0, x20
        blr     x19
        brk     #0
        .cfi_endproc
        .size   goro_context_trampoline, .-goro_context_trampoline

        .section .note.GNU-stack,"",@progbits
