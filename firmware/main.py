"""Board entry point: start the watchdog, build the board from hal, run the loop forever."""

import hal


def main():
    if hal.safe_mode():
        print("moodkiosk peripheral: safe mode, app not started")
        return
    wdt = hal.watchdog()  # first: a hang anywhere below resets the board, which then says HELLO again
    board = hal.build_board()
    wdt.feed()
    board.run(feed=wdt.feed)


main()
