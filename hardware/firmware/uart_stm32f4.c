/* STM32F405 (Netduino Plus 2, Crazyflie 2.x): USART1 on PA9 (TX) / PA10 (RX), AF7, 115200 8N1.
 * Clocks stay at the reset default (HSI 16 MHz, APB2 = 16 MHz); a firmware that starts the PLL
 * must recompute BRR. QEMU's netduinoplus2 wires its first -serial to this USART. */
#include "board.h"

#define RCC_AHB1ENR (*(volatile uint32_t *)0x40023830u)
#define RCC_APB2ENR (*(volatile uint32_t *)0x40023844u)
#define GPIOA_MODER (*(volatile uint32_t *)0x40020000u)
#define GPIOA_AFRH (*(volatile uint32_t *)0x40020024u)
#define USART1_SR (*(volatile uint32_t *)0x40011000u)    /* bit5 RXNE, bit7 TXE */
#define USART1_DR (*(volatile uint32_t *)0x40011004u)
#define USART1_BRR (*(volatile uint32_t *)0x40011008u)
#define USART1_CR1 (*(volatile uint32_t *)0x4001100Cu)   /* bit13 UE, bit3 TE, bit2 RE */

#define APB2_HZ 16000000u

void board_init(void)
{
    RCC_AHB1ENR |= 1u << 0;                     /* GPIOA */
    RCC_APB2ENR |= 1u << 4;                     /* USART1 */
    GPIOA_MODER = (GPIOA_MODER & ~(0xFu << 18)) | (0xAu << 18);       /* PA9, PA10: alternate function */
    GPIOA_AFRH = (GPIOA_AFRH & ~(0xFFu << 4)) | (0x77u << 4);         /* AF7 = USART1 */
    USART1_BRR = (APB2_HZ + 115200u / 2u) / 115200u;
    USART1_CR1 = (1u << 13) | (1u << 3) | (1u << 2);
    cycles_init();
}

uint8_t uart_getc(void)
{
    while (!(USART1_SR & (1u << 5))) {
    }
    return (uint8_t)USART1_DR;
}

void uart_putc(uint8_t c)
{
    while (!(USART1_SR & (1u << 7))) {
    }
    USART1_DR = c;
}
