/* What main.c needs from a board: one UART and the Cortex-M SysTick cycle counter. */
#ifndef BOARD_H
#define BOARD_H

#include <stdint.h>

void board_init(void);          /* clocks, pins, UART at 115200 8N1 */
uint8_t uart_getc(void);        /* blocking */
void uart_putc(uint8_t c);      /* blocking */

/* SysTick on the CPU clock, free running; a 64-bit count of CPU clock ticks since board_init. */
void cycles_init(void);
uint64_t cycles_now(void);

#endif
