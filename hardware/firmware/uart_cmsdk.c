/* ARM MPS2 (AN386, Cortex-M4): CMSDK APB UART0 at 0x40004000, 25 MHz peripheral clock. */
#include "board.h"

#define UART0_BASE 0x40004000u
#define UART_DATA (*(volatile uint32_t *)(UART0_BASE + 0x000u))
#define UART_STATE (*(volatile uint32_t *)(UART0_BASE + 0x004u))   /* bit0 TX full, bit1 RX full */
#define UART_CTRL (*(volatile uint32_t *)(UART0_BASE + 0x008u))    /* bit0 TX enable, bit1 RX enable */
#define UART_BAUDDIV (*(volatile uint32_t *)(UART0_BASE + 0x010u))

#define SYSCLK_HZ 25000000u

void board_init(void)
{
    UART_BAUDDIV = SYSCLK_HZ / 115200u;   /* must be >= 16 */
    UART_CTRL = 0x3u;
    cycles_init();
}

uint8_t uart_getc(void)
{
    while (!(UART_STATE & 0x2u)) {
    }
    return (uint8_t)UART_DATA;
}

void uart_putc(uint8_t c)
{
    while (UART_STATE & 0x1u) {
    }
    UART_DATA = c;
}
