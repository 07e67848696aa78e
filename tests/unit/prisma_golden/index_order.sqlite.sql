-- CreateTable
CREATE TABLE "X" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "z" TEXT NOT NULL,
    "b" TEXT NOT NULL,
    "c" TEXT NOT NULL,
    "a" TEXT NOT NULL
);

-- CreateIndex
CREATE UNIQUE INDEX "X_z_key" ON "X"("z");

-- CreateIndex
CREATE UNIQUE INDEX "X_a_key" ON "X"("a");

-- CreateIndex
CREATE INDEX "X_c_idx" ON "X"("c");

-- CreateIndex
CREATE INDEX "X_a_b_idx" ON "X"("a", "b");

-- CreateIndex
CREATE INDEX "X_z_idx" ON "X"("z");

-- CreateIndex
CREATE UNIQUE INDEX "X_b_key" ON "X"("b");

-- CreateIndex
CREATE UNIQUE INDEX "X_c_b_key" ON "X"("c", "b");
