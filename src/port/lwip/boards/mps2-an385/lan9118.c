/*
 * lan9118.c - a polled driver for the SMSC LAN9118 Ethernet controller
 * of the mps2-an385 (at 0x40200000, 32-bit bus) as an lwIP netif. Frames
 * go out through the TX data FIFO (command words A and B, then the frame
 * in little-endian words) and come in through the RX status and data
 * FIFOs. The loop polls; the controller's interrupt (IRQ 13, on a frame
 * received) only wakes the CPU from WFI, so a frame is read within
 * microseconds, not at the next tick. Register numbers are those of
 * SMSC's LAN9118 datasheet.
 * Depends on board_mps2.h and lwIP (netif, pbuf, etharp).
 */
#include <string.h>

#include "board_mps2.h"
#include "lwip/etharp.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "netif/ethernet.h"

#define BASE 0x40200000u
#define REG(off) (*(volatile uint32_t *)(BASE + (off)))

#define RX_DATA_FIFO   0x00
#define TX_DATA_FIFO   0x20
#define RX_STATUS_FIFO 0x40
#define TX_STATUS_FIFO 0x48
#define ID_REV         0x50
#define IRQ_CFG        0x54
#define INT_STS        0x58
#define INT_EN         0x5c
#define BYTE_TEST      0x64
#define RX_CFG         0x6c
#define TX_CFG         0x70
#define HW_CFG         0x74
#define RX_FIFO_INF    0x7c
#define TX_FIFO_INF    0x80
#define PMT_CTRL       0x84
#define MAC_CSR_CMD    0xa4
#define MAC_CSR_DATA   0xa8

#define MAC_CR   1
#define ADDRH    2
#define ADDRL    3
#define MII_ACC  6
#define MII_DATA 7

#define MAC_CR_FDPX 0x00100000u
#define MAC_CR_TXEN 0x00000008u
#define MAC_CR_RXEN 0x00000004u
#define CSR_BUSY 0x80000000u
#define CSR_READ 0x40000000u
#define TX_CFG_TX_ON 0x00000002u
#define HW_CFG_SRST 0x00000001u
#define PMT_READY 0x00000001u
#define RX_STS_ERROR 0x00008000u
#define TX_CMD_FIRST 0x00002000u
#define TX_CMD_LAST 0x00001000u
#define PHY_ADDR 1u
#define PHY_BSR 1u
#define PHY_LINK 0x0004u

#define IRQ_EN 0x00000100u
#define IRQ_POL_HIGH 0x00000010u
#define IRQ_PUSH_PULL 0x00000001u
#define RSFL_INT 0x00000008u      /* RX status FIFO above its level (0) */
#define NVIC_ISER0 (*(volatile uint32_t *)0xE000E100u)
#define ETH_IRQ 13u

#define FRAME_MAX 1536u
#define SPIN_LIMIT 100000u

/* One frame each way, word-aligned, for the FIFOs' 32-bit accesses. */
static uint32_t txbuf[FRAME_MAX / 4];
static uint32_t rxbuf[FRAME_MAX / 4 + 1];

static int wait_clear(uint32_t off, uint32_t bit)
{
    for (uint32_t i = 0; i < SPIN_LIMIT; i++)
        if (!(REG(off) & bit))
            return 1;
    return 0;
}

static uint32_t mac_read(uint32_t reg)
{
    REG(MAC_CSR_CMD) = CSR_BUSY | CSR_READ | reg;
    wait_clear(MAC_CSR_CMD, CSR_BUSY);
    return REG(MAC_CSR_DATA);
}

static void mac_write(uint32_t reg, uint32_t v)
{
    REG(MAC_CSR_DATA) = v;
    REG(MAC_CSR_CMD) = CSR_BUSY | reg;
    wait_clear(MAC_CSR_CMD, CSR_BUSY);
}

static uint32_t phy_read(uint32_t reg)
{
    mac_write(MII_ACC, (PHY_ADDR << 11) | (reg << 6) | 1u);
    for (uint32_t i = 0; i < SPIN_LIMIT && (mac_read(MII_ACC) & 1u); i++)
        ;
    return mac_read(MII_DATA) & 0xffffu;
}

static err_t output(struct netif *netif, struct pbuf *p)
{
    (void)netif;
    uint16_t len = p->tot_len;
    if (len > FRAME_MAX)
        return ERR_BUF;
    pbuf_copy_partial(p, txbuf, len, 0);
    /* Data FIFO space, in bytes, for the frame and its two commands. */
    for (uint32_t i = 0; (REG(TX_FIFO_INF) & 0xffffu) < len + 8u; i++)
        if (i > SPIN_LIMIT)
            return ERR_IF;
    REG(TX_DATA_FIFO) = TX_CMD_FIRST | TX_CMD_LAST | len;
    REG(TX_DATA_FIFO) = ((uint32_t)len << 16) | len;
    for (uint32_t i = 0; i < (len + 3u) / 4u; i++)
        REG(TX_DATA_FIFO) = txbuf[i];
    /* Pop the status words, or the status FIFO fills and sending stops. */
    while ((REG(TX_FIFO_INF) >> 16) & 0xffu)
        (void)REG(TX_STATUS_FIFO);
    return ERR_OK;
}

/* The interrupt only wakes the loop: mask the source until the next poll
 * has read the FIFO. */
void fl__lan9118_irq(void)
{
    REG(INT_EN) = 0;
}

void fl__lan9118_poll(struct netif *netif)
{
    while ((REG(RX_FIFO_INF) >> 16) & 0xffu) {
        uint32_t st = REG(RX_STATUS_FIFO);
        uint32_t len = (st >> 16) & 0x3fffu;   /* with the 4-byte CRC */
        uint32_t words = (len + 3u) / 4u;
        uint32_t keep = words <= sizeof rxbuf / 4 ? words : sizeof rxbuf / 4;
        for (uint32_t i = 0; i < words; i++) {
            uint32_t w = REG(RX_DATA_FIFO);
            if (i < keep)
                rxbuf[i] = w;
        }
        if ((st & RX_STS_ERROR) || len < 18u || len > FRAME_MAX)
            continue;
        struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)(len - 4u), PBUF_POOL);
        if (!p)
            continue; /* no buffer: TCP sends it again */
        pbuf_take(p, rxbuf, (u16_t)(len - 4u));
        if (netif->input(p, netif) != ERR_OK)
            pbuf_free(p);
    }
    REG(INT_STS) = RSFL_INT;
    REG(INT_EN) = RSFL_INT;
    /* The PHY is slow to ask (two MAC CSR round trips): every 256th poll. */
    static uint32_t polls;
    if (polls++ % 256u)
        return;
    int up = (phy_read(PHY_BSR) & PHY_LINK) != 0;
    if (up && !netif_is_link_up(netif))
        netif_set_link_up(netif);
    else if (!up && netif_is_link_up(netif))
        netif_set_link_down(netif);
}

err_t fl__lan9118_init(struct netif *netif)
{
    if (REG(BYTE_TEST) != 0x87654321u)
        return ERR_IF;
    REG(HW_CFG) = HW_CFG_SRST;
    if (!wait_clear(HW_CFG, HW_CFG_SRST))
        return ERR_IF;
    for (uint32_t i = 0; !(REG(PMT_CTRL) & PMT_READY); i++)
        if (i > SPIN_LIMIT)
            return ERR_IF;
    REG(INT_EN) = 0;
    REG(INT_STS) = 0xffffffffu;
    REG(IRQ_CFG) = IRQ_EN | IRQ_POL_HIGH | IRQ_PUSH_PULL;
    NVIC_ISER0 = 1u << ETH_IRQ;
    uint32_t lo = mac_read(ADDRL), hi = mac_read(ADDRH);
    netif->hwaddr_len = 6;
    netif->hwaddr[0] = (uint8_t)lo;
    netif->hwaddr[1] = (uint8_t)(lo >> 8);
    netif->hwaddr[2] = (uint8_t)(lo >> 16);
    netif->hwaddr[3] = (uint8_t)(lo >> 24);
    netif->hwaddr[4] = (uint8_t)hi;
    netif->hwaddr[5] = (uint8_t)(hi >> 8);
    netif->mtu = 1500;
    netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
    netif->name[0] = 'e';
    netif->name[1] = 'n';
    netif->output = etharp_output;
    netif->linkoutput = output;
    REG(RX_CFG) = 0;
    REG(TX_CFG) = TX_CFG_TX_ON;
    /* Filter on our address and broadcast (the reset value listens to
     * everything). */
    mac_write(MAC_CR, MAC_CR_TXEN | MAC_CR_RXEN | MAC_CR_FDPX);
    return ERR_OK;
}
